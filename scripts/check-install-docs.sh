#!/usr/bin/env bash
# Checks the stepca command's shell completions and man page as `make install` lays them
# out: `make install` into a temporary DESTDIR (PREFIX=/usr), then each file where its
# tool looks for it ($DATADIR/bash-completion/completions/stepca,
# $DATADIR/zsh/site-functions/_stepca, $DATADIR/fish/vendor_completions.d/stepca.fish,
# $MANDIR/man1/stepca.1), mode 644; each script passes its shell's syntax check (skipped
# with a message where zsh or fish is not installed, a failure with STEPCA_REQUIRE_TOOLS=1) and offers every command that the
# installed stepca's --help lists; the installed bash script completes a command; the man
# page renders without warnings (groff, else man -l) and describes every command. Then
# DATADIR and MANDIR given on the command line are honoured. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
# A missing tool skips its check, unless STEPCA_REQUIRE_TOOLS=1 (test.sh, after install-deps).
skip() { if [ "${STEPCA_REQUIRE_TOOLS:-}" = 1 ]; then ko "$1"; else echo "SKIPPED: $1"; fi; }

stage="$tmp/stage"
make -s install PREFIX=/usr DESTDIR="$stage" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; ko "make install"; echo "$pass passed, $fail failed"; exit 1; }
bin="$stage/usr/bin/stepca"
share="$stage/usr/share"
bash_file="$share/bash-completion/completions/stepca"
zsh_file="$share/zsh/site-functions/_stepca"
fish_file="$share/fish/vendor_completions.d/stepca.fish"
man_file="$share/man/man1/stepca.1"

for f in "$bash_file" "$zsh_file" "$fish_file" "$man_file"; do
  if [ -s "$f" ] && [ "$(stat -c %a "$f")" = 644 ]; then ok "installed ${f#"$stage"} (644)"; else ko "installed ${f#"$stage"} (644)"; fi
done

# The commands, as the installed stepca lists them (help aside).
mapfile -t commands < <("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF && $1 != "help" {print $1}')
[ ${#commands[@]} -ge 10 ] && ok "stepca --help lists ${#commands[@]} commands" || ko "stepca --help lists the commands: ${commands[*]:-none}"

check_shell() { # SHELL FILE
  local sh=$1 f=$2 missing=()
  for c in "${commands[@]}"; do grep -qw -- "$c" "$f" || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && ok "$sh completion offers every command" || ko "$sh completion lacks: ${missing[*]}"
  if command -v "$sh" >/dev/null; then
    "$sh" -n "$f" && ok "$sh -n accepts the completion" || ko "$sh -n accepts the completion"
  else
    skip "$sh -n (no $sh here)"
  fi
}
check_shell bash "$bash_file"
check_shell zsh "$zsh_file"
check_shell fish "$fish_file"
got=$(bash -c 'source "$1"; COMP_WORDS=(stepca insp); COMP_CWORD=1; _stepca stepca insp stepca; echo "${COMPREPLY[@]}"' _ "$bash_file")
[ "$got" = inspect ] && ok "the installed bash completion completes 'stepca insp'" || ko "bash completion of 'stepca insp' gave '$got'"

missing=()
for c in "${commands[@]}"; do grep -q "^\.SS \"stepca $c\"" "$man_file" || missing+=("$c"); done
[ ${#missing[@]} -eq 0 ] && ok "the man page describes every command" || ko "the man page lacks: ${missing[*]}"
if command -v groff >/dev/null; then
  out=$(groff -man -Tutf8 -ww -P-cbou "$man_file" 2>"$tmp/groff.err")
  if [ ! -s "$tmp/groff.err" ] && grep -q 'EXIT STATUS' <<<"$out" && grep -q 'stepca inspect' <<<"$out"; then
    ok "the man page renders (groff, no warnings)"
  else
    cat "$tmp/groff.err"; ko "the man page renders (groff, no warnings)"
  fi
elif command -v man >/dev/null; then
  MANPAGER=cat man -l "$man_file" 2>/dev/null | grep -q 'EXIT STATUS' && ok "the man page renders (man -l)" || ko "the man page renders (man -l)"
else
  skip "rendering the man page (no groff or man here)"
  grep -q '^\.TH STEPCA 1' "$man_file" && ok "the man page has its .TH (no groff or man to render it)" || ko "the man page has its .TH"
fi

# Another layout: DATADIR and MANDIR as given.
make -s install-docs PREFIX=/opt/stepca DATADIR=/opt/stepca/data MANDIR=/opt/man DESTDIR="$tmp/other" >"$tmp/make2.log" 2>&1 || cat "$tmp/make2.log"
for f in data/bash-completion/completions/stepca data/zsh/site-functions/_stepca data/fish/vendor_completions.d/stepca.fish; do
  [ -s "$tmp/other/opt/stepca/$f" ] || { ko "DATADIR honoured: /opt/stepca/$f"; continue; }
  ok "DATADIR honoured: /opt/stepca/$f"
done
[ -s "$tmp/other/opt/man/man1/stepca.1" ] && ok "MANDIR honoured" || ko "MANDIR honoured"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
