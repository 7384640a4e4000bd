//! `matchbox plugin-params` (hidden from `--help`): the plugin's host parameters as JSON, made
//! from the one parameter table (`plugin::params`): ID, name, group, the settings field each
//! stands for, range, unit, default and choices. tests/vst3_host.py reads its IDs from here.

use super::CliError;
use super::output::{self, Stream};
use crate::plugin::params::MatchboxParams;

pub fn run() -> Result<(), CliError> {
    let descriptions = MatchboxParams::default().descriptions();
    let json = serde_json::to_string_pretty(&descriptions)
        .map_err(|e| CliError::Runtime(format!("cannot describe the parameters: {e}")))?;
    // Line by line: `say!` would escape the layout's line breaks.
    output::lines(Stream::Stdout, &json)
}
