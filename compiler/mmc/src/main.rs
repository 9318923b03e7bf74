use std::process::ExitCode;

fn main() -> ExitCode {
    mmc::run()
}
