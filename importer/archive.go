package importer

import (
	"archive/zip"
	"encoding/binary"
	"io"
	"os"
	"path"
	"strings"
)

// Limits of a zip archive (an .xlsx is one), checked before anything of it
// is read.
const (
	// MaxZipEntries is how many entries an upload or a workbook may hold.
	MaxZipEntries = 100_000
	// maxZipDirectory is how large its central directory may be (the zip
	// reader keeps it in memory).
	maxZipDirectory = 32 << 20
)

// openZip opens a zip archive after checking, from its end record, that
// its directory is of a size the zip reader may hold; then it refuses
// entries whose names leave the archive or collide, and archives that
// expand beyond limit.
// fileName is the file's name in messages; inner, when not "", names the
// workbook inside the upload fileName that is being opened.
func openZip(name, fileName, inner string, limit int64) (*zip.ReadCloser, error) {
	who := []string{"File", fileName, "Inner", inner}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	entries, dirSize, ok := zipDirectory(f, fi.Size())
	f.Close()
	if ok && entries > MaxZipEntries {
		return nil, refuse("file.too_many_entries", append(who, "Count", itoa(entries), "Max", itoa(MaxZipEntries))...)
	}
	if ok && dirSize > maxZipDirectory {
		return nil, refuse("file.zip_directory_too_large", append(who, "Size", mib(int64(dirSize)))...)
	}
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, refuse("file.zip_damaged", append(who, "Detail", err.Error())...)
	}
	if err := checkEntryNames(&zr.Reader, who); err != nil {
		zr.Close()
		return nil, err
	}
	if err := checkExpansion(zr, limit, who); err != nil {
		zr.Close()
		return nil, err
	}
	return zr, nil
}

// zipDirectory reads the number of entries and the size of the central
// directory from a zip's end record (zip64 included). ok is false when no
// end record is found; the zip reader then refuses the file itself.
func zipDirectory(f io.ReaderAt, size int64) (entries, dirSize uint64, ok bool) {
	const endLen = 22
	n := min(size, 65535+endLen)
	if n < endLen {
		return 0, 0, false
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil {
		return 0, 0, false
	}
	le := binary.LittleEndian
	for i := len(buf) - endLen; i >= 0; i-- {
		if le.Uint32(buf[i:]) != 0x06054b50 {
			continue
		}
		e := buf[i:]
		entries = uint64(le.Uint16(e[10:]))
		dirSize = uint64(le.Uint32(e[12:]))
		offset := le.Uint32(e[16:])
		if (entries == 0xFFFF || dirSize == 0xFFFFFFFF || offset == 0xFFFFFFFF) && i >= 20 && le.Uint32(buf[i-20:]) == 0x07064b50 {
			var z [56]byte
			at := int64(le.Uint64(buf[i-20+8:]))
			if _, err := f.ReadAt(z[:], at); err == nil && le.Uint32(z[:]) == 0x06064b50 {
				entries, dirSize = le.Uint64(z[32:]), le.Uint64(z[40:])
			}
		}
		return entries, dirSize, true
	}
	return 0, 0, false
}

// checkEntryNames refuses an archive with an entry whose name is absolute
// or climbs out with "..", and one with two entries of the same name
// (ignoring case, as Office does for the parts of a workbook): which of the
// two a reader takes is anybody's guess.
func checkEntryNames(zr *zip.Reader, who []string) error {
	seen := make(map[string]string, len(zr.File))
	for _, f := range zr.File {
		name := strings.ReplaceAll(f.Name, "\\", "/")
		if escapesArchive(name) {
			return refuse("file.entry_outside", append(who, "Entry", f.Name)...)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		key := strings.ToLower(path.Clean(name))
		if prev, dup := seen[key]; dup {
			if prev == f.Name {
				return refuse("file.duplicate_entry", append(who, "Entry", f.Name)...)
			}
			return refuse("file.entry_case_clash", append(who, "Entry", prev, "Entry2", f.Name)...)
		}
		seen[key] = f.Name
	}
	return nil
}

// escapesArchive reports whether a slash-separated entry name is absolute
// or has a ".." element.
func escapesArchive(name string) bool {
	if strings.HasPrefix(name, "/") || len(name) >= 2 && name[1] == ':' {
		return true
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// checkExpansion refuses an archive whose entries expand beyond limit. The
// sizes are those the archive declares; the zip reader refuses any entry that
// inflates beyond its declared size, so they are trustworthy.
func checkExpansion(zr *zip.ReadCloser, limit int64, who []string) error {
	var total uint64
	for _, f := range zr.File {
		total += min(f.UncompressedSize64, uint64(limit)+1) // no wrapping around
		if total > uint64(limit) {
			return refuse("file.expands_too_much", append(who, "Limit", mib(limit))...)
		}
	}
	return nil
}
