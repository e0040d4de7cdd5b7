//! The bulletin as a PDF, typeset by Typst used as a library: tables, Chinese line
//! breaking and the charts' SVG, with the Chinese font embedded. The document's data
//! reaches the template as JSON, so no text is ever spliced into Typst markup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

use super::{Document, RenderError, charts};

/// Where fonts are looked for when the configuration names no directory.
pub const DEFAULT_FONT_DIRS: &[&str] = &["/usr/share/fonts"];

const TEMPLATE: &str = include_str!("bulletin.typ");

/// Fonts that carry Chinese characters, loaded once and reused for every bulletin.
pub struct Fonts {
    fonts: Vec<Font>,
    book: LazyHash<FontBook>,
    /// Their family names, in the order the template prefers them.
    families: Vec<String>,
}

impl Fonts {
    /// Loads every font under `dirs` that has Chinese glyphs (U+4E2D 中).
    ///
    /// # Errors
    /// [`RenderError::NoChineseFont`] when none is found: never render missing glyphs.
    pub fn load(dirs: &[PathBuf]) -> Result<Fonts, RenderError> {
        let mut files = Vec::new();
        for dir in dirs {
            collect_font_files(dir, &mut files);
        }
        files.sort();
        let mut fonts = Vec::new();
        for file in files {
            let Ok(data) = std::fs::read(&file) else {
                continue;
            };
            fonts.extend(
                Font::iter(Bytes::new(data)).filter(|f| f.info().coverage.contains(0x4E2D)),
            );
        }
        if fonts.is_empty() {
            return Err(RenderError::NoChineseFont {
                searched: dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // Sans first: a bulletin of tables and charts reads best in a sans face.
        let mut families: Vec<String> = fonts.iter().map(|f| f.info().family.clone()).collect();
        families.sort_by_key(|f| {
            (
                !f.to_lowercase().contains("sans") && !f.contains("Hei"),
                f.clone(),
            )
        });
        families.dedup();
        let mut book = FontBook::new();
        for f in &fonts {
            book.push(f.info().clone());
        }
        Ok(Fonts {
            fonts,
            book: LazyHash::new(book),
            families,
        })
    }

    pub fn families(&self) -> &[String] {
        &self.families
    }
}

fn collect_font_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_font_files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "ttf" | "otf" | "ttc" | "otc"
            )
        }) {
            out.push(path);
        }
    }
}

/// The document as a PDF.
///
/// # Errors
/// A chart that cannot be drawn, or Typst's own diagnostics.
pub fn render(doc: &Document, fonts: &Fonts) -> Result<Vec<u8>, RenderError> {
    let mut files: HashMap<FileId, Bytes> = HashMap::new();
    let mut data = serde_json::to_value(doc).map_err(|e| RenderError::Typeset(e.to_string()))?;
    for (i, section) in doc.sections.iter().enumerate() {
        for (j, chart) in section.charts.iter().enumerate() {
            let name = format!("chart-{i}-{j}.svg");
            files.insert(
                file_id(&name)?,
                Bytes::new(charts::svg(chart)?.into_bytes()),
            );
            data["sections"][i]["charts"][j]["file"] = name.into();
        }
    }
    data["fonts"] = serde_json::json!(fonts.families);
    files.insert(
        file_id("bulletin.json")?,
        Bytes::new(data.to_string().into_bytes()),
    );
    let main = file_id("bulletin.typ")?;
    let world = BulletinWorld {
        library: LazyHash::new(Library::builder().build()),
        fonts,
        main: Source::new(main, TEMPLATE.to_owned()),
        files,
    };
    let compiled = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(typeset_error)?;
    typst_pdf::pdf(&compiled, &typst_pdf::PdfOptions::default()).map_err(typeset_error)
}

/// Typst's diagnostics as one error.
fn typeset_error(errors: typst::ecow::EcoVec<typst::diag::SourceDiagnostic>) -> RenderError {
    RenderError::Typeset(
        errors
            .iter()
            .map(|e| e.message.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Fixed virtual paths: Typst interns file ids for the life of the process, so a server
/// building a bulletin a month reuses the same few.
fn file_id(name: &str) -> Result<FileId, RenderError> {
    let vpath =
        VirtualPath::new(format!("/{name}")).map_err(|e| RenderError::Typeset(format!("{e:?}")))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

struct BulletinWorld<'a> {
    library: LazyHash<Library>,
    fonts: &'a Fonts,
    main: Source,
    files: HashMap<FileId, Bytes>,
}

impl World for BulletinWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.fonts.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotSource)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.files
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.get().vpath().get_without_slash().into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.fonts.get(index).cloned()
    }

    /// The bulletin names its own dates; Typst's `today` is not used.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_chinese_font_the_pdf_is_refused_not_rendered_with_boxes() {
        let empty = tempfile::tempdir().unwrap();
        let err = Fonts::load(&[empty.path().to_owned()]).err().unwrap();
        assert!(matches!(err, RenderError::NoChineseFont { .. }), "{err}");
        assert!(err.to_string().contains("fonts-wqy-microhei"));
    }

    /// Fonts and poppler are installed by .ci/run; on a developer's machine without them
    /// the test says so and passes, on CI it fails.
    fn installed() -> Option<Fonts> {
        let dirs: Vec<PathBuf> = DEFAULT_FONT_DIRS.iter().map(PathBuf::from).collect();
        let have_poppler = std::process::Command::new("pdftoppm")
            .arg("-v")
            .output()
            .is_ok();
        match (Fonts::load(&dirs), have_poppler) {
            (Ok(fonts), true) => Some(fonts),
            (fonts, _) => {
                let why = format!(
                    "bulletin PDF test needs a Chinese font and poppler-utils (apt-get install \
                     fonts-wqy-microhei poppler-utils): font {:?}, pdftoppm {have_poppler}",
                    fonts.err().map(|e| e.to_string())
                );
                assert!(std::env::var_os("CI").is_none(), "{why}");
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    #[test]
    fn the_bulletin_renders_to_pdf_pages_with_its_chinese_text() {
        let Some(fonts) = installed() else { return };
        // The whole monthly layout renders too, in both languages.
        for lang in [
            super::super::Language::Chinese,
            super::super::Language::English,
        ] {
            let month = super::super::figures::assemble(&super::super::sample::figures(), lang);
            assert!(render(&month, &fonts).unwrap().starts_with(b"%PDF-"));
        }
        let doc = super::super::sample::document();
        let pdf = render(&doc, &fonts).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bulletin.pdf");
        std::fs::write(&file, &pdf).unwrap();
        // The text layer carries the Chinese title: the glyphs are real, not boxes.
        let text = std::process::Command::new("pdftotext")
            .args([file.to_str().unwrap(), "-"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        for needle in [
            "公共互联网网络安全威胁月报",
            "僵尸网络规模分布",
            "恶意网络资源",
            "1,520",
        ] {
            assert!(
                text.contains(needle),
                "{needle} missing from the PDF text:\n{text}"
            );
        }
        // Every page turns into an image.
        let status = std::process::Command::new("pdftoppm")
            .args(["-r", "50", "-png", file.to_str().unwrap()])
            .arg(dir.path().join("page"))
            .status()
            .unwrap();
        assert!(status.success());
        let pages = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "png")
            })
            .count();
        assert!(pages >= 2, "{pages} pages");
        if let Ok(keep) = std::env::var("FENGHUO_KEEP_BULLETIN") {
            std::fs::copy(&file, keep).unwrap();
        }
    }
}
