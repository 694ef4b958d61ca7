//! The syntax themes kelp offers: the ones bat curates (syntect's seven among them), by the
//! kebab-case names Codex 0.171 gives them, read from their dump only when one is chosen or
//! shown. A chosen theme colours the UI's roles too (the accent, the dim text, success and
//! failure …) from the scopes that mean the same in code; the terminal's own colours serve
//! the roles a theme leaves out, and every role while no theme is chosen.

use std::sync::OnceLock;

use ratatui::style::Color;
use syntect::highlighting::{Color as ThemeColor, Highlighter as Styler, Theme};
use syntect::parsing::Scope;
use two_face::theme::EmbeddedThemeName as Dumped;

use super::theme::{self, Background, Role};

/// A theme: its kebab-case name, its place in the dump, and the background it is made for
/// (`None`: the terminal's own palette, whatever its shade).
pub type NamedTheme = (&'static str, Dumped, Option<Background>);

const DARK: Option<Background> = Some(Background::Dark);
const LIGHT: Option<Background> = Some(Background::Light);
const TERMINAL: Option<Background> = None;

/// Every theme offered, in `/theme`'s order.
pub const THEMES: [NamedTheme; 32] = [
    ("ansi", Dumped::Ansi, TERMINAL),
    ("base16", Dumped::Base16, TERMINAL),
    ("base16-256", Dumped::Base16_256, TERMINAL),
    ("base16-eighties-dark", Dumped::Base16EightiesDark, DARK),
    ("base16-mocha-dark", Dumped::Base16MochaDark, DARK),
    ("base16-ocean-dark", Dumped::Base16OceanDark, DARK),
    ("base16-ocean-light", Dumped::Base16OceanLight, LIGHT),
    ("catppuccin-frappe", Dumped::CatppuccinFrappe, DARK),
    ("catppuccin-latte", Dumped::CatppuccinLatte, LIGHT),
    ("catppuccin-macchiato", Dumped::CatppuccinMacchiato, DARK),
    ("catppuccin-mocha", Dumped::CatppuccinMocha, DARK),
    ("coldark-cold", Dumped::ColdarkCold, LIGHT),
    ("coldark-dark", Dumped::ColdarkDark, DARK),
    ("dark-neon", Dumped::DarkNeon, DARK),
    ("dracula", Dumped::Dracula, DARK),
    ("github", Dumped::Github, LIGHT),
    ("gruvbox-dark", Dumped::GruvboxDark, DARK),
    ("gruvbox-light", Dumped::GruvboxLight, LIGHT),
    ("inspired-github", Dumped::InspiredGithub, LIGHT),
    ("1337", Dumped::Leet, DARK),
    ("monokai-extended", Dumped::MonokaiExtended, DARK),
    (
        "monokai-extended-bright",
        Dumped::MonokaiExtendedBright,
        DARK,
    ),
    (
        "monokai-extended-light",
        Dumped::MonokaiExtendedLight,
        LIGHT,
    ),
    (
        "monokai-extended-origin",
        Dumped::MonokaiExtendedOrigin,
        DARK,
    ),
    ("nord", Dumped::Nord, DARK),
    ("one-half-dark", Dumped::OneHalfDark, DARK),
    ("one-half-light", Dumped::OneHalfLight, LIGHT),
    ("solarized-dark", Dumped::SolarizedDark, DARK),
    ("solarized-light", Dumped::SolarizedLight, LIGHT),
    ("sublime-snazzy", Dumped::SublimeSnazzy, DARK),
    ("two-dark", Dumped::TwoDark, DARK),
    ("zenburn", Dumped::Zenburn, DARK),
];

/// The themes for a dark and a light background when none is chosen, by their place in
/// [`THEMES`]: Codex's.
pub const BY_BACKGROUND: [usize; 2] = [10, 8];

/// The dump, its themes read one by one as they are asked for.
fn dump() -> &'static two_face::theme::EmbeddedLazyThemeSet {
    static DUMP: OnceLock<two_face::theme::EmbeddedLazyThemeSet> = OnceLock::new();
    DUMP.get_or_init(two_face::theme::extra)
}

/// The theme at `at` in [`THEMES`].
pub fn theme(at: usize) -> &'static Theme {
    dump().get(THEMES[at].1)
}

/// The place in [`THEMES`] of the theme called `name` (its kebab-case name or its name in the
/// dump, in any case).
pub fn theme_index(name: &str) -> Option<usize> {
    let name = name.trim();
    THEMES.iter().position(|(kebab, dumped, _)| {
        kebab.eq_ignore_ascii_case(name) || dumped.as_name().eq_ignore_ascii_case(name)
    })
}

/// A theme's colour on the terminal: an ANSI theme's index (alpha 0, bat's convention), none
/// for the terminal's default (alpha 1), else the colour itself.
pub fn terminal_colour(colour: ThemeColor) -> Option<Color> {
    match colour.a {
        0 => Some(Color::Indexed(colour.r)),
        1 => None,
        _ => Some(Color::Rgb(colour.r, colour.g, colour.b)),
    }
}

/// The scopes whose colour each UI role takes, the first a theme colours winning.
const ROLE_SCOPES: [(Role, &[&str]); 7] = [
    (
        Role::Accent,
        &["entity.name.function", "support.function", "keyword"],
    ),
    (Role::Dim, &["comment"]),
    (Role::Good, &["markup.inserted", "diff.inserted", "string"]),
    (Role::Warn, &["constant.numeric", "constant"]),
    (Role::Bad, &["markup.deleted", "diff.deleted"]),
    (
        Role::Tool,
        &["markup.heading", "entity.name.section", "storage.type"],
    ),
    (Role::Link, &["markup.underline.link", "string.other.link"]),
];

/// The UI's colours for the theme `styler` styles with: each role's, where the theme has one.
pub fn palette(styler: &Styler<'_>) -> [(Role, Option<Color>); 7] {
    ROLE_SCOPES.map(|(role, scopes)| {
        let colour = scopes.iter().find_map(|name| {
            let scope = Scope::new(name).ok()?;
            styler.style_mod_for_stack(&[scope]).foreground
        });
        (role, colour.and_then(terminal_colour))
    })
}

/// The UI's roles in the colours of the theme `styler` styles with (`None`: the terminal's
/// own).
pub fn colour_the_ui(styler: Option<&Styler<'_>>) {
    match styler {
        Some(styler) => theme::set_palette(&palette(styler)),
        None => theme::set_palette(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every theme of the dump is offered and reads, and Codex's default pair is one dark and
    /// one light.
    #[test]
    fn every_theme_named_is_in_the_dump() {
        for (at, (name, _, _)) in THEMES.iter().enumerate() {
            assert!(!theme(at).scopes.is_empty(), "{name}");
        }
        assert_eq!(
            THEMES.len(),
            two_face::theme::EmbeddedLazyThemeSet::theme_names().len()
        );
        assert_eq!(THEMES[BY_BACKGROUND[0]].0, "catppuccin-mocha");
        assert_eq!(THEMES[BY_BACKGROUND[1]].0, "catppuccin-latte");
        assert_eq!(theme_index("Dracula"), theme_index("dracula"));
        assert_eq!(theme_index("Catppuccin Mocha"), Some(BY_BACKGROUND[0]));
    }

    /// A theme's colours reach the UI's roles; an ANSI theme's stay the terminal's palette.
    #[test]
    fn a_themes_scopes_colour_the_roles() {
        let dracula = Styler::new(theme(theme_index("dracula").unwrap()));
        let roles = palette(&dracula);
        let dim = roles.iter().find(|(role, _)| *role == Role::Dim).unwrap().1;
        assert_eq!(
            dim,
            Some(Color::Rgb(0x62, 0x72, 0xa4)),
            "Dracula's comments"
        );
        let ansi = Styler::new(theme(theme_index("ansi").unwrap()));
        assert!(
            palette(&ansi)
                .iter()
                .all(|(_, colour)| !matches!(colour, Some(Color::Rgb(..)))),
            "{:?}",
            palette(&ansi)
        );
    }
}
