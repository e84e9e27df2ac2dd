package pages

import (
	"fmt"
	"io/fs"
)

// fsSub is the templates directory as the root webpage.New reads.
func fsSub() (fs.FS, error) {
	sub, err := fs.Sub(templates, "templates")
	if err != nil {
		return nil, fmt.Errorf("page templates: %w", err)
	}
	return sub, nil
}
