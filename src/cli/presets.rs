//! `matchbox presets`: list the factory presets, or print one as JSON.

use super::CliError;
use super::output::{self, Stream};
use crate::preset::{self, FACTORY, factory::slug};
use clap::Subcommand;

#[derive(Debug, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox presets\n  matchbox presets show beatbox-punch > my-punch.json\n"
))]
pub struct PresetsArgs {
    #[command(subcommand)]
    pub action: Option<PresetsAction>,
}

#[derive(Debug, Subcommand)]
pub enum PresetsAction {
    /// List the factory presets: name and what each is for (the default).
    #[command(after_help = super::exit_codes_help())]
    List,
    /// Print a preset as JSON: a factory preset by name, or a preset file (checked first).
    #[command(after_help = super::exit_codes_help())]
    Show {
        /// Factory preset name (any case, or its slug such as `beatbox-punch`) or a JSON file.
        #[arg(value_name = "NAME|FILE")]
        name: String,
    },
}

pub fn run(args: &PresetsArgs) -> Result<(), CliError> {
    match &args.action {
        None | Some(PresetsAction::List) => list(),
        Some(PresetsAction::Show { name }) => show(name),
    }
}

fn list() -> Result<(), CliError> {
    let presets = preset::factory_presets();
    let width = presets.iter().map(|(_, p)| p.name.len()).max().unwrap_or(0);
    for (_, p) in &presets {
        say!("{:width$}  {}", p.name, first_sentence(&p.description));
    }
    Ok(())
}

fn show(name: &str) -> Result<(), CliError> {
    let wanted = slug(name);
    // A factory preset prints exactly as shipped; a file prints as this build reads it
    // (migrated to the current version, every field present).
    if let Some(file) = FACTORY
        .iter()
        .find(|f| f.file_name.trim_end_matches(".json") == wanted)
        .filter(|_| !std::path::Path::new(name).exists())
    {
        return output::lines(Stream::Stdout, file.json);
    }
    let preset = preset::resolve(name)?;
    output::lines(Stream::Stdout, &preset.to_json_pretty())
}

/// Up to the first full stop that ends a sentence.
fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}
