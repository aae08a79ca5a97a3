fn main() -> std::process::ExitCode {
    dcos_upgrade::cli::main()
}
