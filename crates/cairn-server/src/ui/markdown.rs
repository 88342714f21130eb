//! Descriptions are Markdown, written by whoever logged the artifact: rendered here so they
//! can never become markup of their own. Raw HTML in the text is shown as text, images are
//! shown as links (the page loads nothing from elsewhere), and links keep only `http`,
//! `https`, `mailto` and relative targets; anything else (`javascript:`, `data:`) is dropped.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Whether a link target is safe to follow from our pages.
fn safe_target(target: &str) -> bool {
    let trimmed: String = target
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    match trimmed.split_once(':') {
        // A colon before any `/`, `?` or `#` is a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(
                scheme.to_ascii_lowercase().as_str(),
                "http" | "https" | "mailto"
            )
        }
        _ => true,
    }
}

fn link<'a>(dest_url: CowStr<'a>, title: CowStr<'a>, id: CowStr<'a>) -> Tag<'a> {
    let dest_url = if safe_target(&dest_url) {
        dest_url
    } else {
        CowStr::Borrowed("#")
    };
    Tag::Link {
        link_type: LinkType::Inline,
        dest_url,
        title,
        id,
    }
}

/// A description rendered to HTML.
pub(crate) fn render(text: &str) -> Markup {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            dest_url,
            title,
            id,
            ..
        })
        | Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => Event::Start(link(dest_url, title, id)),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::with_capacity(text.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    PreEscaped(html)
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders() {
        let html = render("# Title\n\nSome *emphasis* and a [link](https://example.com).").0;
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com">link</a>"#),
            "{html}"
        );
    }

    #[test]
    fn hostile_descriptions_stay_text() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "text <b onmouseover=alert(1)>bold</b>",
            "<iframe src=https://evil.example></iframe>",
            "<!-- <script> -->",
        ] {
            let html = render(hostile).0;
            assert!(
                !html.contains('<')
                    || !html.contains("<script")
                        && !html.contains("<img")
                        && !html.contains("<b ")
                        && !html.contains("<iframe"),
                "{hostile} gave {html}"
            );
            assert!(html.contains("&lt;"), "{hostile} gave {html}");
        }
    }

    #[test]
    fn links_keep_only_safe_schemes() {
        for (markdown, href) in [
            ("[x](javascript:alert)", "#"),
            ("[x](JaVaScRiPt:alert)", "#"),
            ("[x](<java\tscript:alert>)", "#"),
            ("[x](data:text/html,hi)", "#"),
            ("[x](vbscript:x)", "#"),
            ("<javascript:alert>", "#"),
            ("![img](javascript:alert)", "#"),
            ("[x](https://ok.example/a)", "https://ok.example/a"),
            ("[x](/ui/alice)", "/ui/alice"),
            ("[x](mailto:a@b.example)", "mailto:a@b.example"),
            ("[x](docs/a:b)", "docs/a:b"),
        ] {
            let html = render(markdown).0;
            assert!(
                html.contains(&format!(r#"href="{href}""#)),
                "{markdown} gave {html}"
            );
        }
    }

    #[test]
    fn images_become_links() {
        let html = render("![a chart](https://example.com/chart.png)").0;
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/chart.png">a chart</a>"#),
            "{html}"
        );
    }
}
