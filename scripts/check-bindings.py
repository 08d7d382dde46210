#!/usr/bin/env python3
"""Checks that the C++ and Go bindings cover libstepca's C API.

Every function include/stepca.h declares must be used by each binding, or be listed in
that binding's block of deliberately unwrapped functions, with the reason:

    // Deliberately unwrapped (checked by scripts/check-bindings.py):
    //   stepca_foo: why the binding does not offer it; a long reason
    //     continues on lines indented further

The block ends at the first line that does not start with "//   ".

  C++ (bindings/cpp/stepca.hpp, which also holds the block): a function is used when its
      name appears in code, outside comments and string literals: a call, or a function
      pointer such as a deleter's template argument.
  Go (bindings/go/*.go, not _test.go; the block is in bindings/go/doc.go): a function is
      used when `C.stepca_xxx` appears in Go code, or when its name appears in the C code
      of a cgo preamble (the comment right before `import "C"`): callbacks have to be
      registered from C, so those calls are only there.

A listed name that is also used, no longer declared, listed twice or listed without a
reason is an error too. The summary counts the functions accounted for (used or listed)
out of those declared. Exits 1 on any problem.

Usage: scripts/check-bindings.py [--lang cpp|go|all] [--root DIR]
       scripts/check-bindings.py --self-test
"""

import argparse
import contextlib
import io
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HEADER = Path("include/stepca.h")
CPP = Path("bindings/cpp/stepca.hpp")
GO_DIR = Path("bindings/go")
GO_LISTING = GO_DIR / "doc.go"
BLOCK_TITLE = "// Deliberately unwrapped (checked by scripts/check-bindings.py):"
BLOCK_LINE = "//   "

# Comments and literals; whichever starts first wins, as in a lexer.
C_NOISE = re.compile(
    r"""//[^\n]*
      | /\*.*?\*/
      | \b(?:u8|u|U|L)?R"(?P<d>[^()\\\s"]{0,16})\(.*?\)(?P=d)"
      | "(?:\\.|[^"\\\n])*"
      | '(?:\\.|[^'\\\n])*'""",
    re.S | re.X,
)
GO_NOISE = re.compile(
    r"""//[^\n]*
      | /\*.*?\*/
      | `[^`]*`
      | "(?:\\.|[^"\\\n])*"
      | '(?:\\.|[^'\\\n])*'""",
    re.S | re.X,
)
# A declaration: a return type, then the name and "(" (callback typedefs start with typedef).
DECLARATION = re.compile(r"\s*(?!typedef\b)[A-Za-z_][\w\s*]*?\b(stepca_\w+)\s*\(")
ENTRY = re.compile(r"//   (stepca_\w+)\s*(?::\s*(.*?))?\s*")
CONTINUATION = re.compile(r"//    +(\S.*?)\s*")


def blank(noise, text):
    """`text` with comments and string literals blanked out (line numbers kept)."""
    return noise.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def header_functions(text):
    """Names of the functions declared in stepca.h, in order."""
    names = []
    for line in blank(C_NOISE, text).splitlines():
        m = DECLARATION.match(line)
        if m and m.group(1) not in names:
            names.append(m.group(1))
    return names


def parse_listing(text, path):
    """The deliberately unwrapped functions listed in `text`: ({name: reason}, problems)."""
    listed, problems = {}, []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != BLOCK_TITLE:
            i += 1
            continue
        i += 1
        current = None
        while i < len(lines) and lines[i].lstrip().startswith(BLOCK_LINE):
            body = lines[i].strip()
            entry, more = ENTRY.fullmatch(body), CONTINUATION.fullmatch(body)
            if entry:
                current = entry.group(1)
                if current in listed:
                    problems.append(f"{path}:{i + 1}: {current} is listed twice")
                listed[current] = entry.group(2) or ""
            elif more and current:
                listed[current] = (listed[current] + " " + more.group(1)).strip()
            else:
                problems.append(f"{path}:{i + 1}: not a 'stepca_name: reason' line: {body}")
            i += 1
    return listed, problems


def cpp_used(root):
    code = blank(C_NOISE, (root / CPP).read_text())
    return set(re.findall(r"\bstepca_\w+\b", code))


def go_used(root):
    used = set()
    for path in sorted((root / GO_DIR).glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        text = path.read_text()
        used |= set(re.findall(r"\bC\.(stepca_\w+)\b", blank(GO_NOISE, text)))
        for preamble in cgo_preambles(text):
            used |= set(re.findall(r"\bstepca_\w+\b", blank(C_NOISE, preamble)))
    return used


def cgo_preambles(text):
    """The C code of each cgo preamble: the comment right before `import "C"`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != 'import "C"':
            continue
        j = i
        if j > 0 and lines[j - 1].rstrip().endswith("*/"):
            while j > 0 and "/*" not in lines[j - 1]:
                j -= 1
            block = "\n".join(lines[j - 1 : i])
            yield block[block.index("/*") + 2 : block.rindex("*/")]
        else:
            while j > 0 and lines[j - 1].lstrip().startswith("//"):
                j -= 1
            yield "\n".join(l.lstrip()[2:] for l in lines[j:i])


@dataclass
class Report:
    lang: str
    total: int = 0
    used: int = 0
    listed: int = 0
    missing: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.missing and not self.problems


LANGS = {
    "cpp": (cpp_used, CPP),
    "go": (go_used, GO_LISTING),
}


def check(root, lang):
    used_in, listing_path = LANGS[lang]
    functions = header_functions((root / HEADER).read_text())
    used = used_in(root) & set(functions)
    listed, problems = parse_listing((root / listing_path).read_text(), listing_path)
    report = Report(lang, total=len(functions), used=len(used), problems=problems)
    for name, reason in listed.items():
        if name not in functions:
            report.problems.append(f"{listing_path}: {name} is listed but not declared in {HEADER}")
        elif name in used:
            report.problems.append(f"{listing_path}: {name} is listed as unwrapped but is used")
        elif not reason:
            report.problems.append(f"{listing_path}: {name} is listed without a reason")
        else:
            report.listed += 1
    report.missing = [f for f in functions if f not in used and f not in listed]
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=["cpp", "go", "all"], default="all")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true", help="test this checker and exit")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    reports = [check(args.root, lang) for lang in (["cpp", "go"] if args.lang == "all" else [args.lang])]
    for r in reports:
        for name in r.missing:
            print(f"{r.lang}: not wrapped and not listed as deliberately unwrapped: {name}")
        for problem in r.problems:
            print(f"{r.lang}: {problem}")
        print(f"{r.lang}: {r.used} used, {r.listed} deliberately unwrapped, {len(r.missing)} missing"
              f" of {r.total} functions")
    print("bindings coverage: " + ", ".join(f"{r.lang} {r.used + r.listed}/{r.total}" for r in reports))
    return 0 if all(r.ok for r in reports) else 1


# --- self-test: the checker against small synthetic trees ---------------------------------

SYNTH_HEADER = """\
// stepca_in_comment(void) is only mentioned here.
typedef int (*stepca_cb_fn)(void *user_data);
void stepca_free(void *ptr);
stepca_status stepca_alpha(const stepca_thing *t, stepca_error **error);
stepca_status stepca_beta(stepca_error **error);
const char *stepca_gamma(void);
"""
SYNTH_HPP = """\
#include "stepca.h"
// Deliberately unwrapped (checked by scripts/check-bindings.py):
//   stepca_gamma: a reason that is long enough
//     to continue on a second line
struct D { void operator()(void *p) { stepca_free(p); } };
inline void a() { stepca_alpha(nullptr, nullptr); }
inline void b() { stepca_beta(nullptr); }
"""
SYNTH_GO = {
    "doc.go": """\
package x

// Deliberately unwrapped (checked by scripts/check-bindings.py):
//   stepca_gamma: a Go reason
""",
    "a.go": """\
package x

// #include "stepca.h"
// static int reg(void) { return stepca_beta(NULL); }
import "C"

func a() { C.stepca_alpha(nil, nil); C.reg() }
func f(p *C.char) { C.stepca_free(p) }
""",
}


def synth_tree(root, hpp=SYNTH_HPP, go=None, header=SYNTH_HEADER):
    (root / HEADER).parent.mkdir(parents=True, exist_ok=True)
    (root / CPP).parent.mkdir(parents=True, exist_ok=True)
    (root / GO_DIR).mkdir(parents=True, exist_ok=True)
    (root / HEADER).write_text(header)
    (root / CPP).write_text(hpp)
    for name, text in (SYNTH_GO if go is None else go).items():
        (root / GO_DIR / name).write_text(text)
    return root


def run_main(root, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["--root", str(root), *args])
    return rc, out.getvalue()


def case_header_parsing(root):
    assert header_functions(SYNTH_HEADER) == ["stepca_free", "stepca_alpha", "stepca_beta", "stepca_gamma"]


def case_complete_bindings_pass(root):
    synth_tree(root)
    for lang in ("cpp", "go"):
        r = check(root, lang)
        assert r.ok, r
        assert (r.used, r.listed, r.total) == (3, 1, 4), r
    rc, out = run_main(root)
    assert rc == 0, out
    assert "bindings coverage: cpp 4/4, go 4/4" in out, out


def case_unwrapped_function_is_reported(root):
    synth_tree(root, hpp=SYNTH_HPP.replace("stepca_beta(nullptr)", "0"))
    r = check(root, "cpp")
    assert r.missing == ["stepca_beta"], r
    rc, out = run_main(root, "--lang", "cpp")
    assert rc == 1, out
    assert "cpp: not wrapped and not listed as deliberately unwrapped: stepca_beta" in out, out
    assert "bindings coverage: cpp 3/4\n" in out, out


def case_comments_and_strings_are_not_uses(root):
    hpp = SYNTH_HPP.replace("stepca_beta(nullptr);", '/* stepca_beta( */ "stepca_beta(";')
    hpp += "// stepca_beta(nullptr);\nconst char *s = R\"x(stepca_beta()\")x\";\n"
    synth_tree(root, hpp=hpp)
    assert check(root, "cpp").missing == ["stepca_beta"]


def case_stale_listing_is_reported(root):
    synth_tree(root, hpp=SYNTH_HPP.replace("//     to continue", "//   stepca_removed: gone\n//     to continue"))
    r = check(root, "cpp")
    assert any("stepca_removed is listed but not declared" in p for p in r.problems), r
    assert run_main(root, "--lang", "cpp")[0] == 1


def case_listing_without_reason_is_reported(root):
    for line in ("//   stepca_gamma:", "//   stepca_gamma", "//   stepca_gamma:   "):
        synth_tree(root, hpp=re.sub(r"//   stepca_gamma:.*\n//     .*", line, SYNTH_HPP))
        r = check(root, "cpp")
        assert any("stepca_gamma is listed without a reason" in p for p in r.problems), (line, r)
        assert r.listed == 0 and not r.ok, (line, r)


def case_listed_but_used_duplicated_or_malformed_is_reported(root):
    hpp = SYNTH_HPP.replace(
        "//     to continue on a second line",
        "//   stepca_alpha: wrapped after all\n//   stepca_gamma: again\n//   a sentence",
    )
    synth_tree(root, hpp=hpp)
    problems = "\n".join(check(root, "cpp").problems)
    assert "stepca_alpha is listed as unwrapped but is used" in problems, problems
    assert "stepca_gamma is listed twice" in problems, problems
    assert "not a 'stepca_name: reason' line: //   a sentence" in problems, problems


def case_block_ends_at_the_first_other_line(root):
    hpp = SYNTH_HPP.replace("stepca_beta(nullptr);", "0;").replace(
        "//     to continue on a second line", "//     to continue\n// stepca_beta: not in the block"
    )
    synth_tree(root, hpp=hpp)
    assert check(root, "cpp").missing == ["stepca_beta"]


def case_go_uses_tests_strings_and_preambles(root):
    go = dict(SYNTH_GO)
    go["a.go"] = go["a.go"].replace('func f(p *C.char) { C.stepca_free(p) }', 'var s = "C.stepca_free"')
    go["a_test.go"] = "package x\n\nfunc g(p *C.char) { C.stepca_free(p) }\n"
    synth_tree(root, go=go)
    r = check(root, "go")
    assert r.missing == ["stepca_free"], r  # alpha from Go code, beta from the preamble
    rc, out = run_main(root, "--lang", "go")
    assert rc == 1 and "go: not wrapped and not listed as deliberately unwrapped: stepca_free" in out, out


def case_go_block_preamble(root):
    go = dict(SYNTH_GO)
    go["a.go"] = go["a.go"].replace(
        '// #include "stepca.h"\n// static int reg(void) { return stepca_beta(NULL); }',
        '/*\n#include "stepca.h"\nstatic int reg(void) { return stepca_beta(NULL); }\n*/',
    )
    synth_tree(root, go=go)
    assert check(root, "go").ok


def self_test():
    cases = [(name, fn) for name, fn in globals().items() if name.startswith("case_")]
    passed = failed = 0
    for name, fn in cases:
        with tempfile.TemporaryDirectory(prefix="check-bindings.") as d:
            try:
                fn(Path(d))
            except AssertionError as e:
                failed += 1
                print(f"FAIL {name}: {e}")
            else:
                passed += 1
                print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
