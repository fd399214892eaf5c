package formats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line, in bytes without its terminator, that the
// line-oriented readers of this package accept. A longer line is a
// *LineError, not the end of the file: one oversized sample must not sink an
// import of a million good ones.
const MaxLine = 4 << 20

// LineError is a problem with one line of a file. The reader that returns it
// goes on with the next line when called again.
type LineError struct {
	Line   int // 1-based
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// lineReader splits a stream into lines while holding at most one line (and
// a 64 KiB read buffer) in memory, whatever the file's size.
type lineReader struct {
	br   *bufio.Reader
	long []byte // a line that did not fit in br's buffer, assembled
	n    int    // number of the line last returned
	err  error  // sticky: io.EOF or the read error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

var bom = []byte("\xef\xbb\xbf")

// next returns the next line without "\n" or "\r\n". The slice is valid
// until the following call. tooLong reports a line over MaxLine, whose
// content is then dropped. err is io.EOF after the last line, or the read
// error; once returned, it is returned forever.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	if l.err != nil {
		return nil, false, l.err
	}
	l.long = l.long[:0]
	size := 0
	for {
		frag, err := l.br.ReadSlice('\n')
		size += len(frag)
		if errors.Is(err, bufio.ErrBufferFull) {
			if size <= MaxLine+2 { // +2: the terminator is not counted
				l.long = append(l.long, frag...)
			}
			continue
		}
		if err != nil {
			l.err = err
			if err != io.EOF {
				return nil, false, fmt.Errorf("read line %d: %w", l.n+1, err)
			}
			if size == 0 {
				return nil, false, io.EOF
			}
			// The last line has no terminator: return it now, io.EOF next.
		}
		l.n++
		if len(l.long) > 0 {
			l.long = append(l.long, frag...)
			line = l.long
		} else {
			line = frag
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if l.n == 1 {
			line = bytes.TrimPrefix(line, bom)
		}
		if size > MaxLine+2 || len(line) > MaxLine {
			return nil, true, nil
		}
		return line, false, nil
	}
}
