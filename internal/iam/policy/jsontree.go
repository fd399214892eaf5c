package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// The policy grammar needs three things encoding/json's struct decoding does
// not give: exact (case-sensitive) field names, rejection of duplicate fields,
// and the order of condition operators and keys (so that MarshalJSON is
// deterministic). Parse therefore first decodes the document into this small
// ordered tree and validates the tree.

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	default:
		return "an object"
	}
}

type jsonNode struct {
	kind jsonKind
	text string      // string value, number literal, or "true"/"false"
	keys []string    // object member names, in document order
	vals []*jsonNode // object member values (parallel to keys) or array elements
}

// get returns the member named exactly name, or nil.
func (n *jsonNode) get(name string) *jsonNode {
	for i, k := range n.keys {
		if k == name {
			return n.vals[i]
		}
	}
	return nil
}

// maxJSONDepth bounds nesting; a valid policy nests six levels deep.
const maxJSONDepth = 16

func decodeTree(raw []byte) (*jsonNode, *Error) {
	if !utf8.Valid(raw) {
		return nil, &Error{Code: codeMalformed, Message: "policy: not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	root, err := readJSONValue(dec, 0)
	if err != nil {
		return nil, malformed(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Code: codeMalformed, Message: fmt.Sprintf("policy: unexpected data after the document at offset %d", dec.InputOffset())}
	}
	return root, nil
}

type treeError struct{ msg string }

func (e *treeError) Error() string { return e.msg }

func malformed(dec *json.Decoder, err error) *Error {
	var te *treeError
	if errors.As(err, &te) {
		return &Error{Code: codeMalformed, Message: "policy: " + te.msg}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Code: codeMalformed, Message: "policy: not valid JSON: unexpected end of input"}
	}
	return &Error{Code: codeMalformed, Message: fmt.Sprintf("policy: not valid JSON near offset %d: %v", dec.InputOffset(), err)}
}

func readJSONValue(dec *json.Decoder, depth int) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, &treeError{msg: "nested too deeply"}
		}
		switch t {
		case '{':
			n := &jsonNode{kind: jsonObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, &treeError{msg: "object key is not a string"}
				}
				for _, seen := range n.keys {
					if seen == k {
						return nil, &treeError{msg: fmt.Sprintf("field %q appears twice in one object", k)}
					}
				}
				v, err := readJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &jsonNode{kind: jsonArray}
			for dec.More() {
				v, err := readJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		default:
			return nil, &treeError{msg: fmt.Sprintf("unexpected %q", rune(t))}
		}
	case string:
		return &jsonNode{kind: jsonString, text: t}, nil
	case json.Number:
		return &jsonNode{kind: jsonNumber, text: string(t)}, nil
	case bool:
		if t {
			return &jsonNode{kind: jsonBool, text: "true"}, nil
		}
		return &jsonNode{kind: jsonBool, text: "false"}, nil
	case nil:
		return &jsonNode{kind: jsonNull}, nil
	default:
		return nil, &treeError{msg: fmt.Sprintf("unexpected token %v", tok)}
	}
}
