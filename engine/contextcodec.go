package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/nextbest/nextbest/internal/binrec"
)

// The context as sent, in a decision record of version 4: the exact bytes the client sent,
// in fewer of them. A context in compact JSON (no space between tokens, as every JSON
// library writes by default) is stored as a stream of tokens. An object's keys, in order,
// with the kind of each member's value (a literal, a string, a number, anything else) make
// its shape, which the store's dictionary (Strings) numbers: the contexts a client sends
// have a few shapes, so an object costs a number and its members' values. Decimal numbers
// are an integer and a scale, short strings a dictionary number, longer ones and other
// numbers their text. The stream is read back and compared with the input before it is
// used, so it always reads back as the same bytes; a context it cannot reproduce (spaces,
// say) is stored as it is. With the load test's 30 fields (12 numbers with two decimals,
// 12 words, 6 booleans: 477 bytes) the stream is about 55 bytes.
//
//	context  = uvarint(len<<1) bytes              the bytes as sent
//	         | uvarint(1) value                    a token stream
//	value    = 9 uvarint(shape) {member}           object of a shape, its members in order
//	         | 1 {strref value} 0                  object with its keys spelt out
//	         | 2 {value} 0                         array
//	         | 3 | 4 | 5                           true, false, null
//	         | 6 str                               string
//	         | 7 number                            number
//	member   = 3 | 4 | 5                           of a literal
//	         | str | number | value                of a string, a number, anything else
//	str      = uvarint(id<<1)                      a string of up to 32 bytes by its number
//	         | uvarint(len<<1|1) bytes             the text between the quotes, escapes as sent
//	number   = uvarint((zigzag(m)<<4|scale)<<1)    decimal: m / 10^scale, up to 17 digits
//	         | uvarint(len<<1|1) bytes             its text
//	shape    = a dictionary string: per member, uvarint(key number<<2 | kind),
//	           kind 0 literal, 1 string, 2 number, 3 anything else
//	strref   = uvarint(id<<1) | uvarint(len<<1|1) bytes   (decisioncodec.go)
const (
	ctxEnd    = 0
	ctxObject = 1
	ctxArray  = 2
	ctxTrue   = 3
	ctxFalse  = 4
	ctxNull   = 5
	ctxString = 6
	ctxNumber = 7
	ctxShaped = 9

	kindLiteral = 0
	kindString  = 1
	kindNumber  = 2
	kindValue   = 3

	ctxMaxDepth  = 32 // the API allows 4 (CheckValues); deeper contexts are stored as sent
	ctxMaxScale  = 15
	ctxMaxDigits = 17 // (zigzag(m)<<4|scale)<<1 fits a uint64
	// The dictionary holds context keys and shapes while it has fewer than half its
	// strings, and string values of up to 32 bytes while it has fewer than a quarter: a
	// client that sends ever new keys or values cannot crowd out action ids, nor values
	// keys.
	ctxKeysLimit   = MaxStrings / 2
	ctxValuesLimit = MaxStrings / 4
	ctxMaxValueLen = 32
	ctxTokenized   = 1
)

// appendContext appends raw in the form above, using and growing strs.
func appendContext(b []byte, raw []byte, strs *Strings) []byte {
	start := len(b)
	b = binary.AppendUvarint(b, ctxTokenized)
	body := len(b)
	e := ctxEncoder{raw: raw, out: b, strs: strs}
	if e.value(0) && e.i == len(raw) {
		// Verify: the stream must read back as exactly raw.
		r := recordReader{binrec.NewReader(e.out[body:], errRecord)}
		buf := checkBufs.Get().(*[]byte)
		*buf = r.contextValue((*buf)[:0], strs, 0)
		same := r.Err() == nil && r.Len() == 0 && bytes.Equal(*buf, raw)
		checkBufs.Put(buf)
		if same {
			return e.out
		}
	}
	b = e.out[:start]
	b = binary.AppendUvarint(b, uint64(len(raw))<<1)
	return append(b, raw...)
}

// checkBufs holds the buffers appendContext reads its token streams back into.
var checkBufs = sync.Pool{New: func() any { return new([]byte) }}

// ctxEncoder tokenizes compact JSON; any byte it does not expect makes value return false.
type ctxEncoder struct {
	raw  []byte
	i    int
	out  []byte
	strs *Strings
}

func (e *ctxEncoder) value(depth int) bool {
	if e.i >= len(e.raw) || depth > ctxMaxDepth {
		return false
	}
	switch c := e.raw[e.i]; {
	case c == '{':
		at, from := e.i, len(e.out)
		if e.object(depth, true) {
			return true
		}
		e.i, e.out = at, e.out[:from]
		return e.object(depth, false)
	case c == '[':
		e.i++
		e.out = append(e.out, ctxArray)
		for first := true; ; first = false {
			if e.i < len(e.raw) && e.raw[e.i] == ']' {
				e.i++
				e.out = append(e.out, ctxEnd)
				return true
			}
			if !first && !e.skip(',') || !e.value(depth+1) {
				return false
			}
		}
	case c == '"':
		e.out = append(e.out, ctxString)
		return e.str()
	case c == 't' || c == 'f' || c == 'n':
		return e.literal()
	case c == '-' || c >= '0' && c <= '9':
		e.out = append(e.out, ctxNumber)
		return e.number()
	}
	return false
}

// object reads an object: with its shape numbered (shaped), or with its keys spelt out.
// It returns false if the object cannot be read, or (shaped) its shape cannot be numbered.
func (e *ctxEncoder) object(depth int, shaped bool) bool {
	e.i++ // '{'
	from := len(e.out)
	if !shaped {
		e.out = append(e.out, ctxObject)
	}
	var shapeBuf [MaxStringLen]byte
	shape := shapeBuf[:0] // longer shapes spill to the heap, and are not numbered
	for first := true; ; first = false {
		if e.i < len(e.raw) && e.raw[e.i] == '}' {
			e.i++
			break
		}
		if !first && !e.skip(',') {
			return false
		}
		key, ok := e.strText()
		if !ok || !e.skip(':') || e.i >= len(e.raw) {
			return false
		}
		if !shaped {
			e.out = appendStrRefBytes(e.out, key, e.strs, ctxKeysLimit)
			if !e.value(depth + 1) {
				return false
			}
			continue
		}
		id := e.strs.refBytes(key, ctxKeysLimit)
		if id == 0 {
			return false
		}
		var kind uint64
		switch c := e.raw[e.i]; {
		case c == 't' || c == 'f' || c == 'n':
			kind, ok = kindLiteral, e.literal()
		case c == '"':
			kind, ok = kindString, e.str()
		case c == '-' || c >= '0' && c <= '9':
			kind, ok = kindNumber, e.number()
		default:
			kind, ok = kindValue, e.value(depth+1)
		}
		if !ok {
			return false
		}
		shape = binary.AppendUvarint(shape, uint64(id)<<2|kind)
	}
	if !shaped {
		e.out = append(e.out, ctxEnd)
		return true
	}
	ref := e.strs.refBytes(shape, ctxKeysLimit)
	if ref == 0 {
		return false
	}
	var head [1 + binary.MaxVarintLen64]byte
	h := binary.AppendUvarint(append(head[:0], ctxShaped), uint64(ref))
	e.out = slices.Insert(e.out, from, h...)
	return true
}

func (e *ctxEncoder) skip(c byte) bool {
	if e.i < len(e.raw) && e.raw[e.i] == c {
		e.i++
		return true
	}
	return false
}

// literal reads true, false or null as its token.
func (e *ctxEncoder) literal() bool {
	for _, l := range [...]struct {
		word string
		tag  byte
	}{{"true", ctxTrue}, {"false", ctxFalse}, {"null", ctxNull}} {
		if bytes.HasPrefix(e.raw[e.i:], []byte(l.word)) {
			e.i += len(l.word)
			e.out = append(e.out, l.tag)
			return true
		}
	}
	return false
}

// str reads a string and appends it as str.
func (e *ctxEncoder) str() bool {
	s, ok := e.strText()
	if !ok {
		return false
	}
	if len(s) <= ctxMaxValueLen {
		if id := e.strs.refBytes(s, ctxValuesLimit); id != 0 {
			e.out = binary.AppendUvarint(e.out, uint64(id)<<1)
			return true
		}
	}
	e.out = binary.AppendUvarint(e.out, uint64(len(s))<<1|1)
	e.out = append(e.out, s...)
	return true
}

// strText reads a string token and returns the text between its quotes.
func (e *ctxEncoder) strText() ([]byte, bool) {
	if e.i >= len(e.raw) || e.raw[e.i] != '"' {
		return nil, false
	}
	start := e.i + 1
	for j := start; j < len(e.raw); j++ {
		switch e.raw[j] {
		case '\\':
			j++ // the escaped byte cannot end the string
		case '"':
			e.i = j + 1
			return e.raw[start:j], true
		}
	}
	return nil, false
}

// number reads a number and appends it as number: a decimal when it has no exponent and
// at most 17 digits, else its text.
func (e *ctxEncoder) number() bool {
	start := e.i
	j := e.i
	if e.raw[j] == '-' {
		j++
	}
	var mant uint64
	digits, scale, point := 0, 0, false
	for ; j < len(e.raw); j++ {
		c := e.raw[j]
		if c >= '0' && c <= '9' {
			if digits <= ctxMaxDigits {
				mant = mant*10 + uint64(c-'0')
			}
			digits++
			if point {
				scale++
			}
			continue
		}
		if c == '.' && !point {
			point = true
			continue
		}
		if c == 'e' || c == 'E' || c == '+' || c == '-' {
			continue // an exponent: stored as text
		}
		break
	}
	text := e.raw[start:j]
	e.i = j
	if len(text) == 0 || text[len(text)-1] < '0' || text[len(text)-1] > '9' {
		return false
	}
	if digits <= ctxMaxDigits && scale <= ctxMaxScale && bytes.IndexAny(text, "eE+") < 0 && !(text[0] == '-' && mant == 0) {
		m := int64(mant)
		if text[0] == '-' {
			m = -m
		}
		z := uint64(m<<1 ^ m>>63)
		e.out = binary.AppendUvarint(e.out, (z<<4|uint64(scale))<<1)
		return true // the verification in appendContext catches any other spelling
	}
	e.out = binary.AppendUvarint(e.out, uint64(len(text))<<1|1)
	e.out = append(e.out, text...)
	return true
}

// context reads what appendContext wrote.
func (r *recordReader) context(strs *Strings) []byte {
	n := r.Uvarint("context")
	if n&1 == 0 {
		if n>>1 > uint64(r.Len()) {
			r.Fail("truncated context: need %d bytes, have %d", n>>1, r.Len())
			return nil
		}
		return bytes.Clone(r.Bytes(int(n>>1), "context"))
	}
	if n != ctxTokenized {
		r.Fail("context form %d", n)
		return nil
	}
	return r.contextValue(nil, strs, 0)
}

// contextValue appends the JSON text of one value of a token stream to b.
func (r *recordReader) contextValue(b []byte, strs *Strings, depth int) []byte {
	if depth > ctxMaxDepth {
		r.Fail("context nested deeper than %d", ctxMaxDepth)
		return b
	}
	tag := r.Byte("context token")
	if r.Err() != nil {
		return b
	}
	switch tag {
	case ctxShaped:
		shape := []byte(r.strByID(strs, r.Uvarint("shape")))
		b = append(b, '{')
		for i := 0; len(shape) > 0 && r.Err() == nil; i++ {
			m, n := binary.Uvarint(shape)
			if n <= 0 || m>>2 > math.MaxUint32 {
				r.Fail("malformed shape")
				return b
			}
			shape = shape[n:]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, r.strByID(strs, m>>2)...)
			b = append(b, '"', ':')
			switch m & 3 {
			case kindLiteral:
				b = r.contextLiteral(b, r.Byte("literal"))
			case kindString:
				b = r.contextString(b, strs)
			case kindNumber:
				b = r.contextNumber(b)
			default:
				b = r.contextValue(b, strs, depth+1)
			}
		}
		return append(b, '}')
	case ctxObject:
		b = append(b, '{')
		for i := 0; r.Err() == nil; i++ {
			if c, ok := r.Peek(); ok && c == ctxEnd {
				r.Byte("end")
				return append(b, '}')
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, r.strRef(strs)...)
			b = append(b, '"', ':')
			b = r.contextValue(b, strs, depth+1)
		}
	case ctxArray:
		b = append(b, '[')
		for i := 0; r.Err() == nil; i++ {
			if c, ok := r.Peek(); ok && c == ctxEnd {
				r.Byte("end")
				return append(b, ']')
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = r.contextValue(b, strs, depth+1)
		}
	case ctxTrue, ctxFalse, ctxNull:
		return r.contextLiteral(b, tag)
	case ctxString:
		return r.contextString(b, strs)
	case ctxNumber:
		return r.contextNumber(b)
	default:
		r.Fail("context token %d", tag)
	}
	return b
}

func (r *recordReader) contextLiteral(b []byte, tag byte) []byte {
	switch tag {
	case ctxTrue:
		return append(b, "true"...)
	case ctxFalse:
		return append(b, "false"...)
	case ctxNull:
		return append(b, "null"...)
	}
	r.Fail("context literal %d", tag)
	return b
}

func (r *recordReader) contextString(b []byte, strs *Strings) []byte {
	b = append(b, '"')
	b = append(b, r.strRef(strs)...)
	return append(b, '"')
}

func (r *recordReader) contextNumber(b []byte) []byte {
	v := r.Uvarint("number")
	if v&1 != 0 {
		if v>>1 > uint64(r.Len()) {
			r.Fail("truncated number")
			return b
		}
		return append(b, r.Bytes(int(v>>1), "number")...)
	}
	z := v >> 5
	return appendDecimal(b, int64(z>>1)^-int64(z&1), int(v>>1&ctxMaxScale))
}

// strByID returns the string numbered id, failing if the dictionary has none.
func (r *recordReader) strByID(strs *Strings, id uint64) string {
	if r.Err() != nil {
		return ""
	}
	s, ok := strs.String(uint32(min(id, math.MaxUint32)))
	if !ok || id > math.MaxUint32 {
		r.Fail("string %d: not in the dictionary", id)
	}
	return s
}

// appendDecimal appends m / 10^scale as ctxEncoder.number read it: at least one digit
// before the point, exactly scale after it (scale <= 15).
func appendDecimal(b []byte, m int64, scale int) []byte {
	u := uint64(m)
	if m < 0 {
		b = append(b, '-')
		u = -u // two's complement: right for math.MinInt64 too
	}
	var tmp [20]byte
	digits := strconv.AppendUint(tmp[:0], u, 10)
	var buf [40]byte
	d := buf[:0]
	for range scale + 1 - len(digits) {
		d = append(d, '0')
	}
	d = append(d, digits...)
	b = append(b, d[:len(d)-scale]...)
	if scale == 0 {
		return b
	}
	b = append(b, '.')
	return append(b, d[len(d)-scale:]...)
}
