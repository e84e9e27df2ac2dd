//go:build !race

package fastpath

const raceBuild = false
