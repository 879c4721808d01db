package importer

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ess-onboard/onboard"
)

// MaxImageSize is the largest license picture accepted: 3.75 MiB, which is
// 5 MiB once base64-encoded.
const MaxImageSize = 5 << 20 / 4 * 3

// imageFinder finds license pictures named by file in the uploaded zip or
// the images folder.
type imageFinder struct {
	zipFiles map[string]*zip.File // entries of the uploaded zip by path
	bookDir  string               // folder of the workbook inside the zip
	dir      string               // Options.ImagesDir
	dirFiles []string             // files under dir (slash paths, relative), listed on first use
	listed   bool
	listErr  error
}

func newImageFinder(upload *zip.ReadCloser, bookDir, dir string) *imageFinder {
	f := &imageFinder{bookDir: bookDir, dir: dir}
	if upload != nil {
		f.zipFiles = map[string]*zip.File{}
		for _, z := range upload.File {
			if z.FileInfo().IsDir() || ignoredZipEntry(z.Name) {
				continue
			}
			f.zipFiles[path.Clean(strings.ReplaceAll(z.Name, "\\", "/"))] = z
		}
	}
	return f
}

// imageSource is a picture file found by name.
type imageSource struct {
	name string // its path in the zip or the images folder
	in   string // where: "zip" or "folder"
	size int64
	open func() (io.ReadCloser, error)
}

func (f *imageFinder) zipSource(name string) imageSource {
	z := f.zipFiles[name]
	return imageSource{name: name, in: "zip", size: int64(z.UncompressedSize64), open: z.Open}
}

func (f *imageFinder) dirSource(rel string) imageSource {
	full := filepath.Join(f.dir, filepath.FromSlash(rel))
	var size int64 = -1
	if fi, err := os.Stat(full); err == nil {
		size = fi.Size()
	}
	return imageSource{name: rel, in: "folder", size: size, open: func() (io.ReadCloser, error) { return os.Open(full) }}
}

// listDir lists the regular files under the images folder once.
func (f *imageFinder) listDir() error {
	if f.listed {
		return f.listErr
	}
	f.listed = true
	f.listErr = filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(f.dir, p)
			if err != nil {
				return err
			}
			f.dirFiles = append(f.dirFiles, filepath.ToSlash(rel))
		}
		return nil
	})
	return f.listErr
}

// find looks a license file name up: as a relative path first (from the top
// of the zip, from the workbook's folder in the zip, from the images folder,
// then from any one folder), then by its bare file name anywhere, as long as
// only one file has that name. The error is a reason for the row.
func (f *imageFinder) find(name string) (imageSource, *reasonError) {
	if f.zipFiles == nil && f.dir == "" {
		return imageSource{}, newReason("license.no_pictures_beside", "File", name)
	}
	p := strings.ReplaceAll(name, "\\", "/")
	rel := ""
	if !strings.HasPrefix(p, "/") && !(len(p) > 1 && p[1] == ':') && !strings.Contains(p, "://") {
		rel = path.Clean(p)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			rel = ""
		}
	}
	base := path.Base(p)
	if rel != "" {
		if f.zipFiles != nil {
			if _, ok := f.zipFiles[rel]; ok {
				return f.zipSource(rel), nil
			}
			if f.bookDir != "" {
				if q := path.Join(f.bookDir, rel); f.zipFiles[q] != nil {
					return f.zipSource(q), nil
				}
			}
		}
		if f.dir != "" {
			if fi, err := os.Stat(filepath.Join(f.dir, filepath.FromSlash(rel))); err == nil && fi.Mode().IsRegular() {
				return f.dirSource(rel), nil
			}
		}
	}
	if rel != "" && strings.Contains(rel, "/") {
		// A path relative to some folder of the zip or images folder.
		var matches []imageSource
		for n := range f.zipFiles {
			if strings.HasSuffix(n, "/"+rel) {
				matches = append(matches, f.zipSource(n))
			}
		}
		if f.dir != "" {
			if err := f.listDir(); err != nil {
				return imageSource{}, newReason("license.folder_unreadable", "Detail", err.Error())
			}
			for _, n := range f.dirFiles {
				if strings.HasSuffix(n, "/"+rel) {
					matches = append(matches, f.dirSource(n))
				}
			}
		}
		if len(matches) == 1 {
			return matches[0], nil
		}
	}
	if base == "" || base == "." || base == "/" {
		return imageSource{}, newReason("license.not_file_name", "File", name)
	}
	var matches []imageSource
	for _, fold := range []bool{false, true} {
		same := func(candidate string) bool {
			b := path.Base(candidate)
			if fold {
				return strings.EqualFold(b, base)
			}
			return b == base
		}
		for n := range f.zipFiles {
			if same(n) {
				matches = append(matches, f.zipSource(n))
			}
		}
		if f.dir != "" {
			if err := f.listDir(); err != nil {
				return imageSource{}, newReason("license.folder_unreadable", "Detail", err.Error())
			}
			for _, n := range f.dirFiles {
				if same(n) {
					matches = append(matches, f.dirSource(n))
				}
			}
		}
		if len(matches) > 0 {
			break
		}
	}
	switch len(matches) {
	case 0:
		code := "license.file_not_in_zip"
		switch {
		case f.zipFiles != nil && f.dir != "":
			code = "license.file_not_in_zip_or_folder"
		case f.zipFiles == nil:
			code = "license.file_not_in_folder"
		}
		return imageSource{}, newReason(code, "File", name)
	case 1:
		return matches[0], nil
	}
	var inZip, inFolder []string
	for _, m := range matches {
		if m.in == "zip" {
			inZip = append(inZip, m.name)
		} else {
			inFolder = append(inFolder, m.name)
		}
	}
	sort.Strings(inZip)
	sort.Strings(inFolder)
	example := append(append([]string(nil), inZip...), inFolder...)[0]
	return imageSource{}, newReason("license.ambiguous_name", "File", name, "Count", itoa(len(matches)),
		"InZip", strings.Join(inZip, ", "), "InFolder", strings.Join(inFolder, ", "), "Example", example)
}

// readImage reads a license picture, checking its type by content and its
// size. src names the file it is read from ("" for a picture in the cell),
// for the reason.
func readImage(r io.Reader, size int64, src imageSource) (*onboard.Image, *reasonError) {
	from := []string{"File", src.name, "In", src.in}
	if size > MaxImageSize {
		return nil, newReason("license.too_large", append(from, "Size", mib(size), "Max", mib(MaxImageSize))...)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxImageSize+1))
	if err != nil {
		return nil, newReason("license.unreadable", append(from, "Detail", err.Error())...)
	}
	if len(data) > MaxImageSize {
		return nil, newReason("license.larger_than", append(from, "Max", mib(MaxImageSize))...)
	}
	mime, kind := sniffImage(data)
	if mime == "" {
		if kind == "" {
			return nil, newReason("license.not_image", from...)
		}
		return nil, newReason("license.wrong_format", append(from, "Format", kind)...)
	}
	return onboard.NewImage(mime, data), nil
}

// sniffImage tells PNG and JPEG apart by their first bytes; for other known
// formats it names them.
func sniffImage(b []byte) (mime, kind string) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", "PNG"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg", "JPEG"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "", "GIF"
	case bytes.HasPrefix(b, []byte("BM")):
		return "", "BMP"
	case len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && string(b[8:12]) == "WEBP":
		return "", "WebP"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "", "TIFF"
	case len(b) >= 12 && string(b[4:8]) == "ftyp" && (strings.HasPrefix(string(b[8:12]), "hei") || strings.HasPrefix(string(b[8:12]), "mif") || string(b[8:12]) == "avif"):
		return "", "HEIC/AVIF"
	case bytes.HasPrefix(b, []byte("%PDF")):
		return "", "PDF"
	case len(b) >= 44 && bytes.Equal(b[40:44], []byte(" EMF")):
		return "", "EMF"
	case bytes.HasPrefix(b, []byte{0xD7, 0xCD, 0xC6, 0x9A}):
		return "", "WMF"
	case bytes.Contains(b[:min(len(b), 256)], []byte("<svg")):
		return "", "SVG"
	}
	return "", ""
}

// attachLicense sets the row's license from the pictures of its license cell,
// or from the file the cell names, reporting what is wrong with either.
func (r *Reader) attachLicense(row *onboard.Row, pics []pictureRef, cell cellValue, col int) {
	column := r.headers[col]
	fail := func(e *reasonError) {
		row.Errors = append(row.Errors, onboard.RowError{Row: row.Number, Column: column, Field: fieldLicense, Code: e.code, Params: e.params, Reason: e.text})
	}
	switch {
	case len(pics) > 1:
		fail(newReason("license.many_pictures", "Count", itoa(len(pics))))
		return
	case len(pics) == 1:
		p := pics[0]
		switch {
		case p.external != "":
			fail(newReason("license.linked_picture", "Target", p.external))
			return
		case p.missing:
			fail(newReason("license.picture_missing"))
			return
		}
		zf := r.book.file(p.part)
		rc, err := zf.Open()
		if err != nil {
			fail(newReason("license.picture_unreadable", "Detail", err.Error()))
			return
		}
		defer rc.Close()
		img, e := readImage(rc, int64(zf.UncompressedSize64), imageSource{})
		if e != nil {
			fail(e)
			return
		}
		row.Data.License = img
		return
	}
	if cell.errorValue {
		fail(newReason("license.excel_error", "Value", trimCell(cell.text)))
		return
	}
	name := trimCell(cell.text)
	if name == "" {
		return
	}
	src, e := r.images.find(name)
	if e != nil {
		fail(e)
		return
	}
	rc, err := src.open()
	if err != nil {
		fail(newReason("license.file_unreadable", "File", src.name, "In", src.in, "Detail", err.Error()))
		return
	}
	defer rc.Close()
	img, e := readImage(rc, src.size, src)
	if e != nil {
		fail(e)
		return
	}
	row.Data.License = img
}
