module github.com/libstepca/libstepca/bench/go

go 1.24
