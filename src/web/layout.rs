//! The frame of every page: the HTML document with the embedded stylesheet and scripts
//! ([`page`]), and the navigation bar of a signed-in user ([`app_page`]: nav, logout, and the
//! session's CSRF token on every htmx request via `hx-headers`). Owns no page content. Text goes
//! through maud, which escapes it; nothing here uses `PreEscaped` on data.

use maud::{html, Markup, DOCTYPE};

use super::assets;
use super::i18n::Lang;
use super::session::{Viewer, CSRF_FIELD, CSRF_HEADER};

/// htmx settings: 4xx/5xx answers are swapped like 2xx ones (htmx's default drops them), 204 is
/// not.
const HTMX_CONFIG: &str = r#"{"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}"#;

/// A whole HTML document: `title`, `body`, the stylesheet and htmx with its SSE extension.
pub fn page(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Error answers (a refused value, 403) carry a message to show: swap them too.
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · outdial" }
                link rel="stylesheet" href={ "/ui/assets/" (assets::CSS) };
                script src={ "/ui/assets/" (assets::HTMX) } {}
                script src={ "/ui/assets/" (assets::HTMX_SSE) } {}
            }
            body { (body) }
        }
    }
}

/// Which entry of the navigation bar a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The supervisor wallboard.
    Wallboard,
    /// The agent desktop.
    Desk,
    /// Call records and recordings.
    Records,
}

/// A page of a signed-in user: the navigation bar (what the role may open), a logout button and
/// `body`, with the session's CSRF token sent on every htmx request.
pub fn app_page(lang: Lang, viewer: &Viewer, here: Section, title: &str, body: Markup) -> Markup {
    let headers = serde_json::json!({ CSRF_HEADER: viewer.csrf }).to_string();
    let link = |s: Section, href: &'static str, key: &'static str| {
        html! { a href=(href) class=[(s == here).then_some("here")] { (lang.t(key)) } }
    };
    page(
        lang,
        title,
        html! {
            div hx-headers=(headers) {
                header.top {
                    strong { (lang.t("app.name")) }
                    @if viewer.is_supervisor() {
                        (link(Section::Wallboard, "/ui/", "nav.wallboard"))
                    } @else {
                        (link(Section::Desk, "/ui/desk", "nav.desk"))
                    }
                    (link(Section::Records, "/ui/records", "nav.records"))
                    span.who { (lang.t("nav.signed_in_as")) " " (viewer.name) " (" (viewer.role) ")" }
                    form method="post" action="/ui/logout" {
                        input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
                        button type="submit" { (lang.t("nav.logout")) }
                    }
                }
                (body)
            }
        },
    )
}
