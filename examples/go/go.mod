module github.com/libstepca/libstepca/examples/go

go 1.24

require github.com/libstepca/libstepca/bindings/go v0.0.0

replace github.com/libstepca/libstepca/bindings/go => ../../bindings/go
