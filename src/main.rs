//! The `cargo-tempo` binary: hands the command line to the library and exits with its code.

fn main() {
    std::process::exit(tempo::cli::main());
}
