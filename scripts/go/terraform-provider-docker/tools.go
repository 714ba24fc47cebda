//go:build tools

package build

import _ "github.com/terraform-providers/terraform-provider-docker"
