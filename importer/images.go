package importer

import (
	"archive/zip"
	"bytes"
	"fmt"
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
	desc string // where it was found, for messages
	size int64
	open func() (io.ReadCloser, error)
}

func (f *imageFinder) zipSource(name string) imageSource {
	z := f.zipFiles[name]
	return imageSource{desc: name + " in the zip", size: int64(z.UncompressedSize64), open: z.Open}
}

func (f *imageFinder) dirSource(rel string) imageSource {
	full := filepath.Join(f.dir, filepath.FromSlash(rel))
	var size int64 = -1
	if fi, err := os.Stat(full); err == nil {
		size = fi.Size()
	}
	return imageSource{desc: rel + " in the images folder", size: size, open: func() (io.ReadCloser, error) { return os.Open(full) }}
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
func (f *imageFinder) find(name string) (imageSource, error) {
	if f.zipFiles == nil && f.dir == "" {
		return imageSource{}, fmt.Errorf("names the file %q, but the upload is a bare .xlsx with no pictures beside it; upload a .zip holding the workbook and the pictures, or insert the picture into the cell", name)
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
				return imageSource{}, fmt.Errorf("the images folder cannot be read: %v", err)
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
		return imageSource{}, fmt.Errorf("%q is not a file name", name)
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
				return imageSource{}, fmt.Errorf("the images folder cannot be read: %v", err)
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
		where := "the zip"
		switch {
		case f.zipFiles != nil && f.dir != "":
			where = "the zip or the images folder"
		case f.zipFiles == nil:
			where = "the images folder"
		}
		return imageSource{}, fmt.Errorf("the picture file %q is not in %s; add it, or correct the file name", name, where)
	case 1:
		return matches[0], nil
	}
	descs := make([]string, len(matches))
	for i, m := range matches {
		descs[i] = m.desc
	}
	sort.Strings(descs)
	return imageSource{}, fmt.Errorf("the file name %q matches %d files (%s); write the folder too, for example %q", name, len(matches), strings.Join(descs, ", "), strings.TrimSuffix(descs[0], " in the zip"))
}

// readImage reads a license picture, checking its type by content and its size.
func readImage(src io.Reader, size int64) (*onboard.Image, error) {
	if size > MaxImageSize {
		return nil, tooBig(size)
	}
	data, err := io.ReadAll(io.LimitReader(src, MaxImageSize+1))
	if err != nil {
		return nil, fmt.Errorf("the picture cannot be read (%v)", err)
	}
	if len(data) > MaxImageSize {
		return nil, tooBig(-1)
	}
	mime, kind := sniffImage(data)
	if mime == "" {
		if kind == "" {
			return nil, fmt.Errorf("the picture is not a PNG or JPEG image; save the license as PNG or JPEG and use that")
		}
		return nil, fmt.Errorf("the picture is a %s image, not PNG or JPEG; save the license as PNG or JPEG and use that", kind)
	}
	return onboard.NewImage(mime, data), nil
}

func tooBig(size int64) error {
	if size < 0 {
		return fmt.Errorf("the picture is larger than %s (5 MiB once base64-encoded, the platform's limit); compress it or lower its resolution", mib(MaxImageSize))
	}
	return fmt.Errorf("the picture is %s, more than %s (5 MiB once base64-encoded, the platform's limit); compress it or lower its resolution", mib(size), mib(MaxImageSize))
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
	fail := func(err error) {
		row.Errors = append(row.Errors, onboard.RowError{Row: row.Number, Column: column, Field: fieldLicense, Reason: err.Error()})
	}
	switch {
	case len(pics) > 1:
		fail(fmt.Errorf("%d pictures are in this cell; keep only the front page of the business license", len(pics)))
		return
	case len(pics) == 1:
		p := pics[0]
		switch {
		case p.external != "":
			fail(fmt.Errorf("the picture is linked to %q instead of being stored in the workbook; insert the picture itself (Insert > Pictures > This Device)", p.external))
			return
		case p.missing:
			fail(fmt.Errorf("the picture in this cell is missing from the workbook; insert it again"))
			return
		}
		zf := r.book.file(p.part)
		rc, err := zf.Open()
		if err != nil {
			fail(fmt.Errorf("the picture in this cell cannot be read (%v); insert it again", err))
			return
		}
		defer rc.Close()
		img, err := readImage(rc, int64(zf.UncompressedSize64))
		if err != nil {
			fail(err)
			return
		}
		row.Data.License = img
		return
	}
	if cell.errorValue {
		fail(fmt.Errorf("the cell shows the Excel error %s; put the picture in the cell or type its file name", trimCell(cell.text)))
		return
	}
	name := trimCell(cell.text)
	if name == "" {
		return
	}
	src, err := r.images.find(name)
	if err != nil {
		fail(err)
		return
	}
	rc, err := src.open()
	if err != nil {
		fail(fmt.Errorf("the picture file %s cannot be read (%v)", src.desc, err))
		return
	}
	defer rc.Close()
	img, err := readImage(rc, src.size)
	if err != nil {
		fail(fmt.Errorf("%s: %v", src.desc, err))
		return
	}
	row.Data.License = img
}
