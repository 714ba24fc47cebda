// Builds the kreuzwerker/docker Terraform provider from its Go module source (scripts/lib/provider-docker.sh).
// The provider's go.mod declares the old module path and its v3 tags have no /v3 suffix, so
// `go install github.com/kreuzwerker/terraform-provider-docker@v3.6.2` is refused; requiring the declared
// path and replacing it with the kreuzwerker repository at the tag's commit is the route the go command
// accepts.
//
// The replacement must name the canonical pseudo-version of the commit of tag v3.6.2
// (2f20f8c3ce8290fcd03d96e69c7bc6338897a479): v0.0.0-<UTC commit time YYYYMMDDhhmmss>-2f20f8c3ce82.
// The Go module proxy reachable here serves exact versions only, so the bare commit hash below cannot be
// resolved; setup stops with that message until the pseudo-version is filled in (then `go mod tidy`
// writes go.sum, which is committed with it).
module wsfleet.local/build/terraform-provider-docker

go 1.24

require github.com/terraform-providers/terraform-provider-docker v0.0.0

replace github.com/terraform-providers/terraform-provider-docker => github.com/kreuzwerker/terraform-provider-docker 2f20f8c3ce8290fcd03d96e69c7bc6338897a479
