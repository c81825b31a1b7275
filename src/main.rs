fn main() -> std::process::ExitCode {
    doelpoort::cli::main()
}
