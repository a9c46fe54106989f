//! Pages rendered from templates (`templates/*.html`, compiled into the binary) with minijinja:
//! every value is HTML-escaped on the way in unless a template says otherwise, so a page cannot
//! be broken by what an agency's feed held. Every page the hub serves or writes is rendered here:
//! the console, the recall form, the report pages, the court's pages and the subject-access
//! page.
use std::sync::OnceLock;

use minijinja::Environment;

/// Every template, by name (the extension picks the escaping: `.html` is HTML-escaped).
const TEMPLATES: &[(&str, &str)] = &[
    ("subject_access.html", include_str!("../templates/subject_access.html")),
    ("report.html", include_str!("../templates/report.html")),
    ("recall.html", include_str!("../templates/recall.html")),
    ("console.html", include_str!("../templates/console.html")),
    ("court_style.html", include_str!("../templates/court_style.html")),
    ("court_summary_body.html", include_str!("../templates/court_summary_body.html")),
    ("court_summary.html", include_str!("../templates/court_summary.html")),
    ("court_pack.html", include_str!("../templates/court_pack.html")),
    ("court_list.html", include_str!("../templates/court_list.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // A template that does not parse is a defect of this build, caught by the tests.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!("template {name} does not parse: {e}");
            }
        }
        env
    })
}

/// A page: `name` rendered with `view`, or (a template that fails is a defect of this build,
/// logged) a short page saying it did not render.
pub fn page(name: &str, view: &impl serde::Serialize) -> String {
    render(name, view).unwrap_or_else(|e| {
        tracing::error!("the page {name} did not render: {e}");
        format!("<!doctype html><p>This page did not render: {}</p>", crate::html::esc(&e.to_string()))
    })
}

/// `name` rendered with `view` (anything serialisable).
pub fn render(name: &str, view: &impl serde::Serialize) -> Result<String, minijinja::Error> {
    environment().get_template(name)?.render(minijinja::value::Serde(view))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses_and_escapes_what_it_is_given() {
        for (name, _) in super::TEMPLATES {
            super::environment().get_template(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let page = super::render(
            "subject_access.html",
            &serde_json::json!({"person": {"name": "<script>alert(1)</script>"}, "records": [], "disclosures": []}),
        )
        .unwrap();
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>alert"), "{page}");
    }
}
