package importer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The shared strings table (xl/sharedStrings.xml) holds the text of the
// workbook's text cells; a cell names its string by index. It is read once,
// with the project's own tokenizer, into a store whose memory does not grow
// with the table: strings are kept as a length-prefixed sequence (in memory
// while small, then in a temporary file), with the offset of every
// sstBlock-th string. A table holding more strings than the workbook's
// sheets could show is refused as soon as it is found to.

// sstBlock is how many strings share one offset.
const sstBlock = 16

// sstInMemory is how many bytes of strings are kept in memory before the
// store moves to a temporary file.
const sstInMemory = 32 << 20

// minStringCell is the fewest bytes a worksheet spends on a cell showing a
// shared string: <c t="s"><v>0</v></c> is 20.
const minStringCell = 16

// sstStore holds the shared strings.
type sstStore struct {
	n        int
	blocks   []int64 // offset of strings 0, sstBlock, 2*sstBlock, ...
	size     int64   // bytes written
	mem      []byte
	inMemory int // bytes kept in mem before moving to file
	file     *os.File
	w        *bufio.Writer
	tmpDir   string

	// One block read back from the file.
	cacheBlock int
	cache      []byte
}

func (st *sstStore) add(s []byte) error {
	if st.n%sstBlock == 0 {
		st.blocks = append(st.blocks, st.size)
	}
	st.n++
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(len(s)))
	st.size += int64(h + len(s))
	if st.file == nil && len(st.mem)+h+len(s) > st.inMemory {
		f, err := os.CreateTemp(st.tmpDir, "sst-")
		if err != nil {
			return err
		}
		os.Remove(f.Name()) // the open file stays readable
		st.file, st.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := st.w.Write(st.mem); err != nil {
			return err
		}
		st.mem = nil
	}
	if st.file != nil {
		st.w.Write(hdr[:h])
		_, err := st.w.Write(s)
		return err
	}
	st.mem = append(st.mem, hdr[:h]...)
	st.mem = append(st.mem, s...)
	return nil
}

// done ends writing.
func (st *sstStore) done() error {
	st.cacheBlock = -1
	if st.w != nil {
		return st.w.Flush()
	}
	return nil
}

func (st *sstStore) Close() error {
	if st.file != nil {
		err := st.file.Close()
		st.file = nil
		return err
	}
	return nil
}

// get returns string i.
func (st *sstStore) get(i int) (string, error) {
	if i < 0 || i >= st.n {
		return "", fmt.Errorf("a cell shows shared string %d, but the workbook has %d", i, st.n)
	}
	b := i / sstBlock
	end := st.size
	if b+1 < len(st.blocks) {
		end = st.blocks[b+1]
	}
	var data []byte
	if st.file == nil {
		data = st.mem[st.blocks[b]:end]
	} else {
		if st.cacheBlock != b {
			n := int(end - st.blocks[b])
			if cap(st.cache) < n || cap(st.cache) > 4<<20 {
				st.cache = make([]byte, n)
			}
			st.cache = st.cache[:n]
			if _, err := st.file.ReadAt(st.cache, st.blocks[b]); err != nil {
				return "", err
			}
			st.cacheBlock = b
		}
		data = st.cache
	}
	for k := b * sstBlock; ; k++ {
		l, h := binary.Uvarint(data)
		if h <= 0 || uint64(len(data)-h) < l {
			return "", errors.New("the shared strings could not be read back")
		}
		if k == i {
			return string(data[h : h+int(l)]), nil
		}
		data = data[h+int(l):]
	}
}

// sstLimits bound what a shared strings table may hold.
type sstLimits struct {
	maxStrings int // strings (and declared counts) beyond this refuse the table
	maxString  int // bytes kept of each string; the rest is dropped
	inMemory   int // bytes of strings kept in memory; 0 means sstInMemory
}

// errTooManyStrings is returned by readSST when the table holds (or says
// it holds) more strings than its limit.
type errTooManyStrings struct {
	declared bool
	n        int64
	limit    int
}

func (e *errTooManyStrings) Error() string {
	if e.declared {
		return fmt.Sprintf("the shared strings table declares %d strings", e.n)
	}
	return fmt.Sprintf("the shared strings table holds more than %d strings", e.limit)
}

// readSST reads a shared strings part into a store.
func readSST(r io.Reader, lim sstLimits, tmpDir string) (*sstStore, error) {
	st := &sstStore{tmpDir: tmpDir, inMemory: lim.inMemory}
	if st.inMemory <= 0 {
		st.inMemory = sstInMemory
	}
	x := newXMLScanner(r)
	x.wantAttr = func(tag, a []byte) (string, bool) {
		if string(tag) == "sst" {
			switch string(a) {
			case "count":
				return "count", true
			case "uniqueCount":
				return "uniqueCount", true
			}
		}
		return "", false
	}
	fail := func(err error) (*sstStore, error) {
		st.Close()
		return nil, err
	}
	// Inside <si>: how deep below it, whether in a run, and its text so far.
	inSI, depth, inRun, collecting, over := false, 0, false, false, false
	var entry []byte
	for {
		err := x.tag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		name := string(x.name)
		if !inSI {
			if x.end {
				continue
			}
			switch name {
			case "sst":
				for _, a := range []string{"count", "uniqueCount"} {
					if v := x.attr(a); v != "" {
						if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > int64(lim.maxStrings) {
							return fail(&errTooManyStrings{declared: true, n: n, limit: lim.maxStrings})
						}
					}
				}
			case "si":
				if st.n >= lim.maxStrings {
					return fail(&errTooManyStrings{limit: lim.maxStrings})
				}
				if x.selfClosing {
					if err := st.add(nil); err != nil {
						return fail(err)
					}
					continue
				}
				inSI, depth, inRun, entry, over = true, 0, false, entry[:0], false
			}
			continue
		}
		if !x.end {
			// The string is the text of the <si>'s own <t> and of its runs'
			// <t>; phonetic runs (<rPh>) are not shown.
			switch {
			case name == "t" && (depth == 0 || depth == 1 && inRun) && !x.selfClosing:
				// Escapes shrink text up to sevenfold when decoded (_x0041_
				// is one letter): keep enough to tell a string longer than
				// maxString once decoded.
				collecting = true
				x.collectText(max(0, 8*lim.maxString-len(entry)))
			case name == "r" && depth == 0:
				inRun = true
			}
			if !x.selfClosing {
				depth++
			}
			continue
		}
		if depth == 0 {
			if name == "si" {
				inSI = false
				text := decodeEscapes(entry, lim.maxString)
				if over && len(text) < lim.maxString {
					// Cut short before decoding: keep it longer than a row
					// may hold, as it was.
					text = append(text, bytes.Repeat([]byte{'.'}, lim.maxString-len(text))...)
				}
				if err := st.add(text); err != nil {
					return fail(err)
				}
			}
			continue
		}
		depth--
		switch {
		case name == "t" && collecting:
			entry = append(entry, unescapeXML(x.text)...)
			over = over || x.textOver
			collecting, x.collect = false, false
		case name == "r" && depth == 0:
			inRun = false
		}
	}
	if err := st.done(); err != nil {
		return fail(err)
	}
	return st, nil
}

// decodeEscapes decodes the _xHHHH_ escapes Office writes for characters
// XML cannot hold (as excelize does: _x005F_ is an underscore, and an
// escape of a surrogate is dropped), in one pass, keeping at most limit bytes.
func decodeEscapes(b []byte, limit int) []byte {
	if !bytes.Contains(b, []byte("_x")) {
		if len(b) > limit {
			return b[:limit]
		}
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b) && len(out) < limit; {
		if b[i] == '_' && i+6 < len(b) && b[i+1] == 'x' && b[i+6] == '_' && isHex4(b[i+2:i+6]) {
			v, _ := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
			switch {
			case v == 0x5F:
				out = append(out, '_')
			case utf8.ValidRune(rune(v)):
				out = utf8.AppendRune(out, rune(v))
			}
			i += 7
			continue
		}
		out = append(out, b[i])
		i++
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(b) == 4
}
