// The request path allocates many small objects (JSON values, records, TLS buffers) on a few
// threads at once; glibc's allocator spent about 15% of the gateway's CPU on them
// (bench/RESULTS.md, "Where a request's CPU goes"). mimalloc is built from source by its crate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    doelpoort::cli::main()
}
