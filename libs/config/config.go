// Package config loads a service's typed configuration from environment
// variables, once, at start-up.
//
// A configuration is a struct whose fields carry an `env` tag naming the
// variable and an optional `default` tag. Fields tagged `secret:"true"` are
// masked when the configuration is logged. Nothing else in a service reads
// the environment: main passes os.LookupEnv here and the struct everywhere
// else.
//
// A variable that is unset takes its default; a variable set to the empty
// string is empty, so REDIS_URL= can say "no Redis" even though the
// default names one. Only text and list fields can be empty: an empty
// number, duration or bool is an error rather than a silent default.
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

// LookupEnv looks up one environment variable and says whether it is set;
// os.LookupEnv fits. A getenv cannot tell "set to empty" from "unset".
type LookupEnv func(string) (string, bool)

// Map is a LookupEnv over a fixed set of variables, for tests and tools:
// a key present with "" is set to empty, a missing key is unset.
func Map(env map[string]string) LookupEnv {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// Checked is a configuration that reports the settings of it that cannot
// work.
type Checked interface {
	Validate() error
}

// LoadChecked is a service's config.Load: it fills a new T from lookup
// (Load) and returns it with what its Validate reports.
func LoadChecked[T Checked](lookup LookupEnv) (T, error) {
	var c T
	if err := Load(lookup, &c); err != nil {
		var zero T
		return zero, err
	}
	return c, c.Validate()
}

// Load fills the struct that dst points to from lookup, using each field's
// default when the variable is unset. Nested and embedded structs are
// walked. It reports every bad value at once.
func Load(lookup LookupEnv, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: Load needs a pointer to a struct")
	}
	var errs []error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) {
		name := f.Tag.Get("env")
		raw, set := lookup(name)
		switch {
		case !set:
			if raw = f.Tag.Get("default"); raw == "" {
				return
			}
		case raw == "" && !emptiable(fv):
			errs = append(errs, fmt.Errorf("config: %s is set but empty; unset it for the default %q", name, f.Tag.Get("default")))
			return
		case raw == "":
			fv.SetZero()
			return
		}
		if err := parse(fv, raw); err != nil {
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

// emptiable reports whether the empty string is a value of the field: text
// and lists, not numbers, durations or bools.
func emptiable(fv reflect.Value) bool {
	return fv.Kind() == reflect.String || fv.Type() == reflect.TypeFor[[]string]()
}

func parse(fv reflect.Value, raw string) error {
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
// which host a service talks to. A comma-separated list of URLs (NATS_URL)
// is masked URL by URL.
func mask(s string) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, ",") && strings.Contains(s, "://") {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			parts[i] = mask(strings.TrimSpace(p))
		}
		return strings.Join(parts, ",")
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		// Secrets in the query, e.g. the Sentinels' password of a
		// failover REDIS_URL (?password=…).
		if q := u.Query(); len(q) > 0 {
			masked := false
			for k := range q {
				if secretParam(k) {
					q.Set(k, "xxxxx")
					masked = true
				}
			}
			if masked {
				u.RawQuery = q.Encode()
			}
		}
		return u.Redacted()
	}
	return "xxxxx"
}

// secretParam reports whether a URL query parameter names a secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "secret", "token", "key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
