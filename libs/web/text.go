package web

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// checkText refuses a decoded JSON body whose strings are not Unicode
// text: invalid UTF-8, or a \uD800-\uDFFF escape that is not half of a
// surrogate pair. encoding/json turns both into U+FFFD without a word,
// so a name sent as garbage would be stored as a different, lossy name;
// the client hears a 400 naming the field instead. body must be valid
// JSON (it has just decoded), so every backslash is inside a string.
func checkText(body []byte) *Error {
	off, what := badText(body)
	if off < 0 {
		return nil
	}
	field := fieldAt(body, off)
	if field == "" {
		return &Error{Status: 400, Message: "Invalid text", Detail: "the body holds " + what}
	}
	return &Error{Status: 400, Message: "Invalid text", Detail: "field " + field + " holds " + what,
		Fields: map[string]string{field: "must be valid Unicode text"}}
}

// badText returns the offset of the first invalid UTF-8 sequence or lone
// surrogate escape in body and what it is, or -1.
func badText(body []byte) (int, string) {
	const lone = `a lone UTF-16 surrogate escape (\uD800-\uDFFF not in a pair)`
	for i := 0; i < len(body); {
		c := body[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				return i, "invalid UTF-8"
			}
			i += size
			continue
		}
		if c != '\\' || i+1 >= len(body) {
			i++
			continue
		}
		if body[i+1] != 'u' {
			i += 2 // \\, \" and the one-letter escapes
			continue
		}
		r, ok := hex4(body[i+2:])
		switch {
		case !ok:
			i += 2
		case r >= 0xD800 && r < 0xDC00: // high half: a low half must follow
			if len(body) >= i+12 && body[i+6] == '\\' && body[i+7] == 'u' {
				if lo, ok := hex4(body[i+8:]); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 12
					continue
				}
			}
			return i, lone
		case r >= 0xDC00 && r < 0xE000:
			return i, lone
		default:
			i += 6
		}
	}
	return -1, ""
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// fieldAt names the field whose value holds byte offset off of the JSON
// document body, as encoding/json names fields in its errors: object keys
// joined by dots, array positions left out ("items.name"). A bad byte in
// a key names the object holding it; "" for the top level.
func fieldAt(body []byte, off int) string {
	type frame struct {
		object, wantKey bool
		key             string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	path := func(withKey bool) string {
		var keys []string
		for i, f := range stack {
			if f.object && f.key != "" && (withKey || i < len(stack)-1) {
				keys = append(keys, f.key)
			}
		}
		return strings.Join(keys, ".")
	}
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].wantKey
		if int(dec.InputOffset()) > off {
			return path(!isKey)
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if isKey {
				stack[len(stack)-1].key, stack[len(stack)-1].wantKey = t, false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
