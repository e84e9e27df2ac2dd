// Package config loads a service's typed configuration from environment
// variables, once, at start-up.
//
// A configuration is a struct whose fields carry an `env` tag naming the
// variable and an optional `default` tag. Fields tagged `secret:"true"` are
// masked when the configuration is logged. Nothing else in a service reads
// the environment: main passes os.Getenv here and the struct everywhere else.
//
//	type Config struct {
//		Addr        string        `env:"BOOKING_ADDR" default:":8101" doc:"HTTP listen address"`
//		DatabaseURL string        `env:"DATABASE_URL" default:"postgres://..." secret:"true"`
//		Timeout     time.Duration `env:"BOOKING_TIMEOUT" default:"5s"`
//	}
package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Getenv looks up one environment variable; os.Getenv fits.
type Getenv func(string) string

// Load fills the struct that dst points to from getenv, using each field's
// default when the variable is empty. Nested structs are walked. It reports
// every bad value at once.
func Load(getenv Getenv, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: Load needs a pointer to a struct")
	}
	var errs []error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) {
		name := f.Tag.Get("env")
		raw := getenv(name)
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			return
		}
		if err := set(fv, raw); err != nil {
			errs = append(errs, fmt.Errorf("config: %s=%q: %w", name, raw, err))
		}
	})
	return errors.Join(errs...)
}

// Field describes one configuration variable, for logs and documentation.
type Field struct {
	Env     string
	Default string
	Doc     string
	Value   string // the loaded value, masked when the field is secret
}

// Describe lists the variables of the struct that cfg points to (or is),
// with secrets masked, in declaration order.
func Describe(cfg any) []Field {
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var out []Field
	walk(v, func(f reflect.StructField, fv reflect.Value) {
		val := fmt.Sprint(fv.Interface())
		if f.Tag.Get("secret") == "true" {
			val = mask(val)
		}
		out = append(out, Field{Env: f.Tag.Get("env"), Default: f.Tag.Get("default"), Doc: f.Tag.Get("doc"), Value: val})
	})
	return out
}

// LogValue returns the configuration as key/value pairs with secrets masked,
// ready for slog: logger.Info("config", config.LogValue(&cfg)...).
func LogValue(cfg any) []any {
	var kv []any
	for _, f := range Describe(cfg) {
		kv = append(kv, strings.ToLower(f.Env), f.Value)
	}
	return kv
}

func walk(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Tag.Get("env") == "" {
			if fv.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(fv, fn)
			}
			continue
		}
		fn(f, fv)
	}
}

func set(fv reflect.Value, raw string) error {
	switch fv.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	case []string:
		var parts []string
		for p := range strings.SplitSeq(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
		// Parse at the field's own size, so 4294967297 is an error for an
		// int32 rather than a silent 1.
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Float64, reflect.Float32:
		n, err := strconv.ParseFloat(raw, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetFloat(n)
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

// mask hides a secret but keeps a URL's shape so a reader can still see
// which host a service talks to.
func mask(s string) string {
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.Redacted()
	}
	return "xxxxx"
}
