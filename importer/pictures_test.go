package importer

import (
	"bytes"
	"fmt"
	_ "image/gif" // lets excelize add the GIF fixture
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

// licenseRows is a sheet with a license column (H) and three data rows.
func licenseRows(h3, h4, h5 any) [][]any {
	return [][]any{
		{"Licenses"},
		stdHeaders,
		{"org-1", "One", "", "", "", "", "", h3},
		{"org-2", "Two", "", "", "", "", "", h4},
		{"org-3", "Three", "", "", "", "", "", h5},
	}
}

// excelizePicture reads a cell's picture with excelize, as an independent
// check of what the importer found.
func excelizePicture(t *testing.T, path, cell string) []byte {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pics, err := f.GetPictures("Sheet1", cell)
	if err != nil {
		t.Fatal(err)
	}
	if len(pics) != 1 {
		t.Fatalf("excelize finds %d pictures in %s", len(pics), cell)
	}
	return pics[0].File
}

func TestPictureForms(t *testing.T) {
	t.Parallel()
	img1, img2 := testPNG(t, 10), testJPEG(t)
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, path string)
	}{
		{"Floating", func(t *testing.T, path string) {
			f, err := excelize.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.AddPictureFromBytes("Sheet1", "H3", &excelize.Picture{Extension: ".png", File: img1}); err != nil {
				t.Fatal(err)
			}
			if err := f.AddPictureFromBytes("Sheet1", "H5", &excelize.Picture{Extension: ".jpg", File: img2, Format: &excelize.GraphicOptions{Positioning: "oneCell", OffsetX: 4, OffsetY: 3}}); err != nil {
				t.Fatal(err)
			}
			// A logo in another column is not a license.
			if err := f.AddPictureFromBytes("Sheet1", "A1", &excelize.Picture{Extension: ".png", File: testPNG(t, 99)}); err != nil {
				t.Fatal(err)
			}
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
		}},
		{"ExcelInCell", func(t *testing.T, path string) {
			addExcelInCellPictures(t, path, []string{"H3", "H5"}, [][]byte{img1, img2}, false)
		}},
		{"ExcelInCellIndirect", func(t *testing.T, path string) {
			addExcelInCellPictures(t, path, []string{"H3", "H5"}, [][]byte{img1, img2}, true)
		}},
		{"WPSCellImage", func(t *testing.T, path string) {
			addWPSCellImages(t, path, []string{"H3", "H5"}, [][]byte{img1, img2})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeBook(t, t.TempDir(), "pics.xlsx", licenseRows("placeholder", "", "placeholder"), nil)
			tc.build(t, path)
			for cell, want := range map[string][]byte{"H3": img1, "H5": img2} {
				if tc.name == "ExcelInCellIndirect" {
					// excelize takes a value-metadata index for the rich
					// value index, which holds only when the two orders agree.
					break
				}
				if got := excelizePicture(t, path, cell); !bytes.Equal(got, want) {
					t.Fatalf("the fixture is wrong: excelize reads another picture in %s", cell)
				}
			}
			_, rows := readAll(t, path, testOpts())
			if len(rows) != 3 {
				t.Fatalf("got %d rows", len(rows))
			}
			for i, want := range []*onboard.Image{onboard.NewImage("image/png", img1), nil, onboard.NewImage("image/jpeg", img2)} {
				row := rows[i]
				if !row.Accepted() {
					t.Fatalf("row %d rejected: %v", row.Number, reasons(row))
				}
				got := row.Data.License
				if (got == nil) != (want == nil) || (got != nil && (got.SHA256 != want.SHA256 || got.MIME != want.MIME || !bytes.Equal(got.Data, want.Data))) {
					t.Errorf("row %d license = %v; want %v", row.Number, describe(got), describe(want))
				}
				if c := row.Cells[7]; c != "" && tc.name != "Floating" {
					t.Errorf("row %d: the picture cell shows %q; want it empty", row.Number, c)
				}
			}
		})
	}
}

func describe(img *onboard.Image) string {
	if img == nil {
		return "none"
	}
	return fmt.Sprintf("%s %d bytes %s", img.MIME, len(img.Data), img.SHA256[:8])
}

func TestPictureProblems(t *testing.T) {
	t.Parallel()
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	path := writeBook(t, t.TempDir(), "bad.xlsx", licenseRows("", "", ""), func(f *excelize.File) {
		for _, p := range []struct {
			cell string
			pic  excelize.Picture
		}{
			// Two pictures in H3.
			{"H3", excelize.Picture{Extension: ".png", File: testPNG(t, 1)}},
			{"H3", excelize.Picture{Extension: ".png", File: testPNG(t, 2), Format: &excelize.GraphicOptions{OffsetX: 20}}},
			// A GIF in H4.
			{"H4", excelize.Picture{Extension: ".gif", File: gif}},
			// A picture below the data, in a row otherwise empty.
			{"H9", excelize.Picture{Extension: ".png", File: testPNG(t, 3)}},
		} {
			if err := f.AddPictureFromBytes("Sheet1", p.cell, &p.pic); err != nil {
				t.Fatal(err)
			}
		}
	})
	_, rows := readAll(t, path, testOpts())
	if len(rows) != 4 {
		t.Fatalf("got %d rows; want 4 (three data rows and the row of the stray picture)", len(rows))
	}
	want := []struct {
		row    int
		reason string
	}{
		{3, "2 pictures are in this cell"},
		{4, "GIF image, not PNG or JPEG"},
		{5, ""},
		{9, "is empty"},
	}
	for i, w := range want {
		row := rows[i]
		if row.Number != w.row {
			t.Fatalf("row %d is number %d; want %d", i, row.Number, w.row)
		}
		got := strings.Join(reasons(row), "; ")
		if (w.reason == "") != row.Accepted() || !strings.Contains(got, w.reason) {
			t.Errorf("row %d: %q; want %q", w.row, got, w.reason)
		}
	}
	if rows[3].Data.License != nil {
		t.Errorf("a rejected row keeps its image in memory")
	}
}

func TestImageTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A PNG header followed by padding: the size check comes first.
	big := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxImageSize)...)
	justRight := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxImageSize-8)...)
	os.WriteFile(filepath.Join(dir, "big.png"), big, 0o644)
	os.WriteFile(filepath.Join(dir, "ok.png"), justRight, 0o644)
	os.WriteFile(filepath.Join(dir, "fake.png"), []byte("not an image at all"), 0o644)
	path := writeBook(t, dir, "sizes.xlsx", licenseRows("big.png", "ok.png", "fake.png"), nil)
	_, rows := readAll(t, path, Options{ImagesDir: dir, Now: testOpts().Now})
	if len(rows) != 3 {
		t.Fatalf("got %d rows", len(rows))
	}
	if r := strings.Join(reasons(rows[0]), ""); !strings.Contains(r, "more than 3.8 MiB") {
		t.Errorf("big: %q", r)
	}
	if !rows[1].Accepted() || len(rows[1].Data.License.Data) != MaxImageSize {
		t.Errorf("an image of exactly %d bytes must pass: %v", MaxImageSize, reasons(rows[1]))
	}
	if r := strings.Join(reasons(rows[2]), ""); !strings.Contains(r, "not a PNG or JPEG") {
		t.Errorf("fake: %q", r)
	}
}
