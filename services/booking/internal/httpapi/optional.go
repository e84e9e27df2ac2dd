package httpapi

import "encoding/json"

// optional is a field of a partial update: whether the body named it, and
// whether as null, which the decoder would otherwise not tell from a
// field left out. A value of the wrong type is the decoder's usual 400
// naming the field.
type optional[T any] struct {
	set, null bool
	v         T
}

// UnmarshalJSON records that the field was sent; null is kept apart.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// ptr is the value when the field was sent, nil when it was left out; a
// null is noted in fields, since no field of ours can be cleared to null.
func (o optional[T]) ptr(fields map[string]string, name string) *T {
	switch {
	case !o.set:
		return nil
	case o.null:
		fields[name] = "must not be null; leave the field out to keep its value"
		return nil
	}
	return &o.v
}
