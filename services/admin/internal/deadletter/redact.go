package deadletter

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Redacted replaces a bearer secret in what the dead-letter API returns.
const Redacted = "[redacted]"

// secretParam matches the value of a query parameter that carries a bearer
// secret inside any URL-like string ("…?token=…", "&access_token=…").
var secretParam = regexp.MustCompile(`(?i)([?&](?:token|access_token|refresh_token|sig|signature)=)[^&#\s"']*`)

// secretKey reports whether a JSON object key names a bearer secret or a
// link that embeds one: manage_url (booking's signed manage links, which
// events carried before the mailer minted them itself), any *token*,
// secret or password field.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	return k == "manage_url" || strings.HasSuffix(k, "_manage_url") ||
		strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "password")
}

// redactString masks secret query parameters inside s.
func redactString(s string) string {
	return secretParam.ReplaceAllString(s, "${1}"+Redacted)
}

// redactJSON returns a copy of the JSON document raw in which every
// secret-named field's value is Redacted and every secret query parameter
// inside a string is masked. Dead letters are kept 30 days and admins read
// them; replay still publishes the original bytes, so the event reaches its
// consumer whole. A document that does not parse is treated as a string.
func redactJSON(raw []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as they were
	var v any
	if err := dec.Decode(&v); err != nil {
		out, _ := json.Marshal(redactString(string(raw)))
		return out
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		out, _ = json.Marshal(Redacted)
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretKey(k) {
				if e != nil && e != "" {
					x[k] = Redacted
				}
				continue
			}
			x[k] = redactValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
		return x
	case string:
		return redactString(x)
	default:
		return v
	}
}
