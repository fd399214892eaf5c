package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// jsonBuffer is a response body being encoded, with its encoder: pooled,
// so that a response costs no buffer or encoder allocation of its own.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBody is the largest buffer returned to the pool: one huge
// response (a 1,000-sample page) must not pin its buffer for good.
const maxPooledBody = 256 << 10

var jsonBuffers = sync.Pool{New: func() any {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}}

// encodeJSON encodes v into a pooled buffer; the caller writes its bytes
// and hands it back with release.
func encodeJSON(v any) (*jsonBuffer, error) {
	b := jsonBuffers.Get().(*jsonBuffer)
	b.buf.Reset()
	if err := b.enc.Encode(v); err != nil {
		b.release()
		return nil, err
	}
	return b, nil
}

func (b *jsonBuffer) release() {
	if b.buf.Cap() <= maxPooledBody {
		jsonBuffers.Put(b)
	}
}

// write sends the encoded body with its status, length and content type.
func (b *jsonBuffer) write(w http.ResponseWriter, status int) {
	writeBody(w, status, b.buf.Bytes())
	b.release()
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendBuffers hold the bodies of hand-written encoders (WriteJSONWith).
var appendBuffers = sync.Pool{New: func() any { return new([]byte) }}

// WriteJSONWith writes a success response whose body appendBody writes
// (JSON, as WriteJSON would encode it): for the responses hot enough for
// an encoder written by hand (sample pages). Nothing is sent when
// appendBody fails, and its error is returned as it is: appendBody may
// read and authorize as it writes, so its error is the request's answer.
func WriteJSONWith(w http.ResponseWriter, status int, appendBody func([]byte) ([]byte, error)) error {
	p := appendBuffers.Get().(*[]byte)
	body, err := appendBody((*p)[:0])
	if err == nil {
		writeBody(w, status, body)
	}
	if cap(body) <= maxPooledBody {
		*p = body[:0]
		appendBuffers.Put(p)
	}
	return err
}

// jsonContentType is shared by every response: header values are not
// modified after they are set.
var jsonContentType = []string{"application/json"}

// writeJSON writes an error envelope, whose encoding cannot fail.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := encodeJSON(v)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		return
	}
	b.write(w, status)
}

// WriteJSON writes a success response. The body is encoded before the
// status is written, so that a value that cannot be encoded becomes the
// router's 500 envelope instead of a success status with a cut body.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	b.write(w, status)
	return nil
}

// Decode reads the request body as JSON into v with the one strict decoder
// every body goes through (see DecodeJSON).
func Decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return BadRequest("read request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("request body is empty; a JSON object is required")
	}
	if err := DecodeJSON(body, v); err != nil {
		return BadRequest("%s", err)
	}
	return nil
}

// DecodeJSON is the one strict JSON decoder of request input: it decodes
// data into v, refusing what encoding/json would let through silently — a
// key given twice (the policy parser refuses them too, and "last one wins"
// lets two readers of one body see different values), unknown fields,
// trailing data — and values of the wrong type, with a message that names
// the field. The caller wraps the message in its route's error.
func DecodeJSON(data []byte, v any) error {
	if err := checkDuplicateKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(describeJSONError(err))
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// checkJSONContentType refuses a body declared as anything but JSON: it
// would otherwise be parsed as JSON whatever the client meant. A body
// without a Content-Type is read as JSON, as clients that omit it mean.
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return Errorf(http.StatusUnsupportedMediaType, codeInvalid, "Content-Type %q is not supported: this API takes a JSON body (application/json).", ct)
}

// maxJSONDepth bounds how deeply checkDuplicateKeys follows nesting; the
// decoder that runs after it has its own bound.
const maxJSONDepth = 64

// checkDuplicateKeys walks data's tokens and reports the first object key
// that appears twice in one object, with the object's path
// ("labels[1].attributes"). Malformed JSON is left for the decoder to
// describe.
func checkDuplicateKeys(data []byte) error {
	type frame struct {
		object    bool
		path      string
		keys      map[string]struct{} // objects: the keys seen so far
		expectKey bool                // objects: the next token is a key
		valuePath string              // objects: the path of the current member
		index     int                 // arrays: the index of the next element
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or malformed: the decoder reports it
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, isKey := tok.(string); isKey && top != nil && top.object && top.expectKey {
			if _, dup := top.keys[k]; dup {
				if top.path == "" {
					return fmt.Errorf("duplicate key %q: each key may appear once in an object", k)
				}
				return fmt.Errorf("duplicate key %q in %s: each key may appear once in an object", k, top.path)
			}
			top.keys[k] = struct{}{}
			top.expectKey, top.valuePath = false, joinPath(top.path, k)
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return nil
			}
			path := ""
			if top != nil {
				if top.object {
					path = top.valuePath
				} else {
					path = top.path + "[" + strconv.Itoa(top.index) + "]"
				}
			}
			f := &frame{object: tok == json.Delim('{'), path: path}
			if f.object {
				f.keys, f.expectKey = map[string]struct{}{}, true
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				continue
			}
			top = stack[len(stack)-1]
		}
		// A scalar or a closed container completed one value of top.
		if top != nil {
			if top.object {
				top.expectKey = true
			} else {
				top.index++
			}
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return fmt.Sprintf("%s: must be %s, not %s", field, wantedKind(typeErr.Type), givenValue(typeErr.Value))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of body"
	}
	return "malformed JSON: " + err.Error()
}

// wantedKind says what a Go type accepts, in words; integers name their
// range, since "a number" does not tell why 1.5 or 1e30 was refused.
func wantedKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t.Bits() == 64 {
			return "a whole number from 0 to 18446744073709551615"
		}
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}

// givenValue turns encoding/json's description of a value ("number 1e30",
// "string", "array") into words.
func givenValue(v string) string {
	switch {
	case strings.HasPrefix(v, "number "):
		return strings.TrimPrefix(v, "number ")
	case v == "number":
		return "a number"
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case v == "array":
		return "an array"
	case v == "object":
		return "an object"
	}
	return v
}
