//! `matchbox check`: validate preset files, camilladsp `--check` style.

use super::{CliError, EXIT_PRESET};
use crate::preset;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = super::help_footer("  matchbox check presets/*.json my-voice.json\n"))]
pub struct CheckArgs {
    /// Preset files to validate.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Prints `ok: FILE` (stdout) for each valid file and one line naming the file, the field
/// and the problem (stderr) for each invalid one; fails with [`EXIT_PRESET`] if any is bad.
pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let mut bad = 0;
    for file in &args.files {
        match preset::load(file) {
            Ok(_) => say!("ok: {}", file.display()),
            Err(e) => {
                tell!("{e}");
                bad += 1;
            }
        }
    }
    if bad == 0 {
        Ok(())
    } else {
        Err(CliError::Reported(EXIT_PRESET))
    }
}
