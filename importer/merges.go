package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/xuri/excelize/v2"
)

// mergedRange is a merged range of the sheet: 1-based, inclusive.
type mergedRange struct{ c1, r1, c2, r2 int }

func (m mergedRange) ref() string {
	a, _ := excelize.CoordinatesToCellName(m.c1, m.r1)
	b, _ := excelize.CoordinatesToCellName(m.c2, m.r2)
	return a + ":" + b
}

// Bounds of merged ranges.
const (
	// maxMerges is how many merged ranges a sheet may declare.
	maxMerges = 100_000
	// maxMergeText is how much text the top-left cells of the merged
	// ranges open at one time may hold.
	maxMergeText = 16 << 20
)

var mergeTag = []byte("mergeCell")

// readMerges reads the merged ranges a worksheet part declares. They come
// after its rows, so they are read before the rows are: a sheet without
// any costs a byte search of its text, and one with some is tokenized for
// its <mergeCell ref> attributes only. Nothing else of the part is kept.
func readMerges(p *pkg, part string) ([]mergedRange, error) {
	rc, err := p.open(part)
	if err != nil {
		return nil, err
	}
	found, err := containsStream(rc, mergeTag)
	rc.Close()
	if err != nil || !found {
		return nil, err
	}
	if rc, err = p.open(part); err != nil {
		return nil, err
	}
	defer rc.Close()
	return scanMerges(rc)
}

// scanMerges reads the <mergeCell ref> attributes of a worksheet, in order
// of their first rows.
func scanMerges(r io.Reader) ([]mergedRange, error) {
	x := newXMLScanner(r)
	x.wantAttr = func(tag, a []byte) (string, bool) {
		if string(tag) == "mergeCell" && string(a) == "ref" {
			return "ref", true
		}
		return "", false
	}
	var out []mergedRange
	for {
		err := x.tag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if x.end || string(x.name) != "mergeCell" {
			continue
		}
		ref := x.attr("ref")
		if !strings.Contains(ref, ":") {
			continue // a range of one cell merges nothing
		}
		m, ok := parseRange(ref)
		if !ok {
			return nil, fmt.Errorf("bad merged range %q", ref)
		}
		if m.c1 == m.c2 && m.r1 == m.r2 {
			continue
		}
		if len(out) >= maxMerges {
			return nil, errTooManyMerges
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].r1 < out[j].r1 })
	return out, nil
}

// parseRange reads a range reference such as "B3:D5".
func parseRange(ref string) (mergedRange, bool) {
	a, b, ok := strings.Cut(ref, ":")
	if !ok {
		return mergedRange{}, false
	}
	c1, r1, err1 := excelize.CellNameToCoordinates(a)
	c2, r2, err2 := excelize.CellNameToCoordinates(b)
	if err1 != nil || err2 != nil {
		return mergedRange{}, false
	}
	return mergedRange{min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)}, true
}

var errTooManyMerges = fmt.Errorf("it declares more than %d merged ranges", maxMerges)

// containsStream reports whether r holds pat, reading it in chunks.
func containsStream(r io.Reader, pat []byte) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 64<<10)
	keep := 0
	for {
		n, err := br.Read(buf[keep:])
		n += keep
		if bytes.Contains(buf[:n], pat) {
			return true, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		keep = min(len(pat)-1, n)
		copy(buf, buf[n-keep:n])
	}
}

// openMerge is a merged range whose rows are being read, with the value
// of its top-left cell.
type openMerge struct {
	mergedRange
	meta cellMeta
	text string
}

// mergeFill is a cell of a row given the value of a merged range's
// top-left cell, which is in an earlier row.
type mergeFill struct {
	col  int // 0-based
	rng  mergedRange
	meta cellMeta
	text string
}

// mergeTracker hands the value of each merged range down the rows it
// covers, as the rows stream past. It keeps one open range per column (the
// ranges Excel writes never overlap; of ranges that do, the later one
// wins), so that a row costs at most one fill per column.
type mergeTracker struct {
	pending []mergedRange // not yet reached, by first row
	slots   []openMerge   // per 0-based first column; r2 == 0 when none is open
	active  int           // slots open
	text    int           // bytes held in slots
}

// newMergeTracker keeps the ranges that cover data rows below the header
// in its columns and reach down more than one row.
func newMergeTracker(ms []mergedRange, headerRow, columns int) *mergeTracker {
	t := &mergeTracker{}
	for _, m := range ms {
		if m.r1 > headerRow && m.r2 > m.r1 && m.c1 <= columns {
			t.pending = append(t.pending, m)
		}
	}
	if len(t.pending) == 0 {
		return nil
	}
	t.slots = make([]openMerge, columns)
	return t
}

// at returns the cells row raw is given by merged ranges from earlier rows.
func (t *mergeTracker) at(raw *rawRow) ([]mergeFill, error) {
	n := raw.num
	if t.active > 0 {
		for i := range t.slots {
			if o := &t.slots[i]; o.r2 != 0 && o.r2 < n {
				t.text -= len(o.text)
				*o = openMerge{}
				t.active--
			}
		}
	}
	for len(t.pending) > 0 && t.pending[0].r1 <= n {
		m := t.pending[0]
		t.pending = t.pending[1:]
		if m.r2 < n {
			continue
		}
		o := &t.slots[m.c1-1]
		if o.r2 != 0 {
			t.text -= len(o.text)
		} else {
			t.active++
		}
		*o = openMerge{mergedRange: m}
		if m.r1 == n {
			if i := m.c1 - 1; i < len(raw.vals) {
				o.text = raw.vals[i]
			}
			if c := raw.meta(m.c1); c != nil {
				o.meta = *c
				o.meta.formula, o.meta.value, o.meta.inline = "", "", ""
			}
			t.text += len(o.text)
			if t.text > maxMergeText {
				return nil, fmt.Errorf("the merged ranges open at row %d hold more than %s of text", n, fmtBytes(maxMergeText))
			}
		}
	}
	if t.active == 0 {
		return nil, nil
	}
	var fills []mergeFill
	for i := range t.slots {
		if o := &t.slots[i]; o.r2 != 0 && o.r1 < n {
			fills = append(fills, mergeFill{col: i, rng: o.mergedRange, meta: o.meta, text: o.text})
		}
	}
	return fills, nil
}
