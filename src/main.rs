// jemalloc instead of glibc's malloc: see bench/RESULTS.md ("Where a request's CPU goes").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    doelpoort::cli::main()
}
