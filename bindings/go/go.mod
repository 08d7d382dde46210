module github.com/libstepca/libstepca/bindings/go

go 1.24
