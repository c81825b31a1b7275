/// mimalloc instead of glibc's malloc: a request allocates many small, short-lived values
/// (JSON, records, headers) on several threads, where glibc's arenas spent about a fifth of the
/// gateway's CPU (perf, Haal Centraal raadplegen at 64 connections).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    doelpoort::cli::main()
}
