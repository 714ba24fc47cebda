// Builds the kreuzwerker/docker Terraform provider from its Go module source.
// The provider's go.mod declares the old module path and its v3 tags have no /v3
// suffix, so `go install github.com/kreuzwerker/terraform-provider-docker@v3.6.2`
// is refused; requiring the declared path and replacing it with the kreuzwerker
// repository at the tag's commit is the route the go command accepts.
module wsfleet.local/build/terraform-provider-docker

go 1.24

require github.com/terraform-providers/terraform-provider-docker v0.0.0

replace github.com/terraform-providers/terraform-provider-docker => github.com/kreuzwerker/terraform-provider-docker 2f20f8c3ce8290fcd03d96e69c7bc6338897a479
