//! A tenant's brand on the connect pages and emails: display name, logo, primary colour.
//! Without one the pages are neutral (our blue, no logo, no name).
//!
//! Logos arrive as data URLs and are checked before they are stored: a raster type's bytes
//! must be what the URL says (PNG, JPEG, WebP, GIF), at most [`MAX_LOGO_BYTES`]; an SVG is
//! re-written from an allow-list of shape elements and attributes (no script, style, event
//! handler, foreign object or external reference survives), so what is stored is safe even
//! where an SVG is rendered as a document rather than as an image.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::fields::{Fields, Patch};

/// Decoded logo bytes; keeps a settings item and every page that embeds it small.
pub const MAX_LOGO_BYTES: usize = 32 * 1024;
/// The data URL as sent: base64 of the largest logo fits, and so does the settings body
/// around it within the 64 KiB request limit (so a long one is a 400, never a 413).
pub const MAX_LOGO_URL: usize = 60_000;
const MAX_DISPLAY_NAME: usize = 64;
/// WCAG 2 AA for normal text: the button's white text on the primary colour.
pub const MIN_CONTRAST: f64 = 4.5;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A checked (and for SVG, re-written) `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// `#rrggbb`, lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
}

pub const SETTINGS_FIELDS: &[&str] = &["display_name", "logo", "primary_color"];

impl Branding {
    pub fn to_json(&self) -> Value {
        json!({
            "display_name": self.display_name,
            "logo": self.logo,
            "primary_color": self.primary_color,
        })
    }

    /// A PATCH of `branding`: given fields replace the current ones, `null` removes one.
    pub fn patch(&self, f: &mut Fields) -> Branding {
        let mut next = self.clone();
        for (name, slot, parse) in [
            (
                "display_name",
                &mut next.display_name,
                display_name as fn(&Value) -> Result<String, String>,
            ),
            ("logo", &mut next.logo, logo),
            ("primary_color", &mut next.primary_color, primary_color),
        ] {
            match f.patch(name, true, parse) {
                Patch::Set(v) => *slot = Some(v),
                Patch::Clear => *slot = None,
                Patch::Keep => {}
            }
        }
        next
    }

    /// The logo's type and bytes (for an email's inline image).
    pub fn logo_bytes(&self) -> Option<(String, Vec<u8>)> {
        let (mime, data) = self
            .logo
            .as_deref()?
            .strip_prefix("data:")?
            .split_once(";base64,")?;
        Some((mime.to_owned(), STANDARD.decode(data).ok()?))
    }
}

fn display_name(v: &Value) -> Result<String, String> {
    crate::fields::string(v, 1, MAX_DISPLAY_NAME)
}

/// `#rrggbb` (or `#rgb`) whose contrast with white is at least [`MIN_CONTRAST`].
pub fn primary_color(v: &Value) -> Result<String, String> {
    let Value::String(raw) = v else {
        return Err("must be a string".into());
    };
    let (r, g, b) = parse_hex(raw).ok_or("must be a hex colour like #1a73e8")?;
    let ratio = contrast_with_white(r, g, b);
    if ratio < MIN_CONTRAST {
        return Err(format!(
            "has a contrast of {ratio:.1}:1 with white; buttons need at least {MIN_CONTRAST}:1 (choose a darker colour)"
        ));
    }
    Ok(format!("#{r:02x}{g:02x}{b:02x}"))
}

fn parse_hex(raw: &str) -> Option<(u8, u8, u8)> {
    let hex = raw.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        6 => Some((
            channel(&hex[0..2])?,
            channel(&hex[2..4])?,
            channel(&hex[4..6])?,
        )),
        3 => {
            let twice = |i: usize| channel(&hex[i..=i].repeat(2));
            Some((twice(0)?, twice(1)?, twice(2)?))
        }
        _ => None,
    }
}

/// WCAG 2 contrast ratio of an sRGB colour against white.
pub fn contrast_with_white(r: u8, g: u8, b: u8) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    1.05 / (luminance + 0.05)
}

/// A logo data URL: a raster image whose bytes match its type, or a sanitised SVG.
pub fn logo(v: &Value) -> Result<String, String> {
    let Value::String(raw) = v else {
        return Err("must be a data URL string".into());
    };
    if raw.chars().count() > MAX_LOGO_URL {
        return Err(format!(
            "must be a data URL of at most {MAX_LOGO_URL} characters holding at most {} KiB",
            MAX_LOGO_BYTES / 1024
        ));
    }
    let rest = raw
        .strip_prefix("data:")
        .ok_or("must be a data URL (data:image/png;base64,…)")?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or("must be a data URL (data:image/png;base64,…)")?;
    // Types as the document spells them (lower case), like everything else it checks.
    let (mime, base64) = match meta.strip_suffix(";base64") {
        Some(m) => (m.to_owned(), true),
        None => (meta.to_owned(), false),
    };
    let bytes = if base64 {
        STANDARD
            .decode(data)
            .map_err(|_| "has invalid base64 data".to_string())?
    } else {
        url::form_urlencoded::parse(format!("x={data}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default()
    };
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(too_big());
    }
    let signature_ok = match mime.as_str() {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "image/svg+xml" => {
            let text =
                String::from_utf8(bytes).map_err(|_| "is an SVG that is not UTF-8".to_string())?;
            let clean = sanitize_svg(&text)?;
            if clean.len() > MAX_LOGO_BYTES {
                return Err(too_big());
            }
            return Ok(format!(
                "data:image/svg+xml;base64,{}",
                STANDARD.encode(clean)
            ));
        }
        _ => return Err("must be a PNG, JPEG, WebP, GIF or SVG image".into()),
    };
    if !signature_ok {
        return Err(format!("is not the {mime} its data URL says it is"));
    }
    Ok(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
}

fn too_big() -> String {
    format!("must be at most {} KiB", MAX_LOGO_BYTES / 1024)
}

const SVG_ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "defs",
    "lineargradient",
    "radialgradient",
    "stop",
    "clippath",
    "title",
    "desc",
    "use",
    "symbol",
    "text",
    "tspan",
];

const SVG_ATTRIBUTES: &[&str] = &[
    "xmlns",
    "xmlns:xlink",
    "version",
    "viewbox",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "d",
    "points",
    "transform",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "opacity",
    "clip-path",
    "clip-rule",
    "id",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientunits",
    "gradienttransform",
    "spreadmethod",
    "preserveaspectratio",
    "font-family",
    "font-size",
    "font-weight",
    "text-anchor",
    "dominant-baseline",
    "letter-spacing",
    "href",
    "xlink:href",
    "role",
    "aria-label",
    "aria-hidden",
    "focusable",
    "display",
    "visibility",
];

/// Re-writes an SVG keeping only allow-listed elements and attributes. Anything else is
/// dropped with its content; a DOCTYPE (entities) or a root other than `<svg>` is refused.
pub fn sanitize_svg(text: &str) -> Result<String, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut writer = quick_xml::Writer::new(Vec::new());
    // Depth inside a dropped element: everything there is dropped too.
    let mut dropped = 0usize;
    let mut depth = 0usize;
    let mut saw_root = false;
    let bad = |m: &str| format!("is an SVG that cannot be used: {m}");
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(&format!("not well-formed XML ({e})")))?;
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(bad("a DOCTYPE is not allowed")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::CData(_) => {}
            Event::Start(e) => {
                if dropped > 0 || (depth > 0 && !allowed_element(&e)) {
                    dropped += 1;
                    continue;
                }
                if depth == 0 {
                    if saw_root || !e.local_name().as_ref().eq_ignore_ascii_case("svg") {
                        return Err(bad("the root element must be one <svg>"));
                    }
                    saw_root = true;
                }
                depth += 1;
                writer
                    .write_event(Event::Start(clean_element(&e)))
                    .map_err(|e| bad(&e.to_string()))?;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    return Err(bad("the root element must be <svg> with content"));
                }
                if dropped > 0 || !allowed_element(&e) {
                    continue;
                }
                writer
                    .write_event(Event::Empty(clean_element(&e)))
                    .map_err(|e| bad(&e.to_string()))?;
            }
            Event::End(e) => {
                if dropped > 0 {
                    dropped -= 1;
                } else {
                    depth = depth.saturating_sub(1);
                    writer
                        .write_event(Event::End(e))
                        .map_err(|e| bad(&e.to_string()))?;
                }
            }
            Event::Text(t) if dropped == 0 && depth > 0 => {
                writer
                    .write_event(Event::Text(t))
                    .map_err(|e| bad(&e.to_string()))?;
            }
            Event::GeneralRef(r) if dropped == 0 && depth > 0 => {
                let name = r.as_ref();
                let known =
                    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || name.starts_with('#');
                if !known {
                    return Err(bad("only the predefined XML entities are allowed"));
                }
                writer
                    .write_event(Event::GeneralRef(r))
                    .map_err(|e| bad(&e.to_string()))?;
            }
            Event::Text(_) | Event::GeneralRef(_) => {}
        }
    }
    if !saw_root || depth != 0 {
        return Err(bad("the root element must be <svg>"));
    }
    String::from_utf8(writer.into_inner()).map_err(|_| bad("not UTF-8"))
}

fn allowed_element(e: &BytesStart) -> bool {
    let name = e.name().as_ref().to_ascii_lowercase();
    SVG_ELEMENTS.contains(&name.as_str())
}

/// The element with only allow-listed attributes whose values cannot reach outside the
/// image: references only to fragments of this SVG (`#id`, `url(#id)`), nothing scripted.
fn clean_element(e: &BytesStart) -> BytesStart<'static> {
    let name = e.name().as_ref().to_owned();
    let mut clean = BytesStart::new(name);
    for attr in e.attributes().flatten() {
        let key = attr.key.as_ref().to_ascii_lowercase();
        if !SVG_ATTRIBUTES.contains(&key.as_str()) {
            continue;
        }
        let Ok(value) = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
            continue;
        };
        let lowered: String = value
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if key.ends_with("href") && !value.starts_with('#') {
            continue;
        }
        if lowered.contains("url(") && !only_local_urls(&lowered) {
            continue;
        }
        if lowered.contains("javascript:")
            || lowered.contains("data:")
            || lowered.contains("expression(")
        {
            continue;
        }
        clean.push_attribute((attr.key.as_ref(), value.as_ref()));
    }
    clean
}

/// Every `url(` in `value` (lower case, no whitespace) is `url(#…)`.
fn only_local_urls(value: &str) -> bool {
    value.match_indices("url(").all(|(i, _)| {
        value[i + 4..].starts_with('#')
            || value[i + 4..].starts_with("'#")
            || value[i + 4..].starts_with("\"#")
    })
}

#[cfg(test)]
mod tests;
