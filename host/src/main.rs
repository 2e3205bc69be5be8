use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use wagate::app::Gateway;
use wagate::auth::{MintRequest, TenantDirectory};
use wagate::config::{Config, LogFormat, Overrides};
use wagate::store::Store;

/// wagate: a WhatsApp gateway with per-tenant WebAssembly plugins.
///
/// Settings come from built-in defaults, then `--config FILE` (TOML), then WAGATE_*
/// environment variables, then flags. See README.md for every setting.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: REST API, Socket.IO and the WhatsApp sessions, on one port.
    ///
    /// With no settings at all it listens on 127.0.0.1:3000 and keeps its data in
    /// ./data/wagate.db. On the first start without WAGATE_ADMIN_KEY it generates the
    /// operator admin key and prints it once.
    Serve(ServeArgs),
    /// Print a signed user JWT of a tenant (development): the same token
    /// `POST /api/v1/tokens` mints, signed with the tenant's HS256 secret from the database.
    Token(TokenArgs),
    /// Print the OpenAPI document of the REST API (the one served at /openapi.json).
    Openapi,
    /// Print the JSON Schema of every canonical event payload (docs/events.schema.json).
    EventsSchema,
    /// Plugin authoring.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a new plugin crate (Cargo.toml, plugin.toml, a working transform with native
    /// tests) in DIR/NAME. See docs/plugins.md for the next steps.
    New {
        /// Plugin (and crate) name.
        name: String,
        /// Parent directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path of wagate's plugin-sdk crate (default: the sources this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
        /// `rust` (a crate) or `ts` (TypeScript: plugin.toml, src/plugin.ts).
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Lang {
    Rust,
    Ts,
}

#[derive(Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data directory (overrides WAGATE_DATA_DIR and the file).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on (overrides WAGATE_LISTEN and the file).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    common: Common,
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// The user (`sub` claim).
    #[arg(long)]
    sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Extra claim as key=value (value parsed as JSON when it is JSON); repeatable.
    #[arg(long = "claim", value_parser = parse_claim)]
    claims: Vec<(String, Value)>,
}

fn parse_claim(s: &str) -> Result<(String, Value), String> {
    let (k, v) = s.split_once('=').ok_or("expected key=value")?;
    let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
    Ok((k.to_owned(), value))
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let overrides = Overrides { listen: args.listen, data_dir: args.common.data_dir };
    let config = Config::load(args.common.config.as_deref(), &overrides).map_err(|e| e.to_string())?;
    init_logging(&config);
    let listen = config.listen;
    let gateway = Gateway::build(config).await.map_err(|e| e.to_string())?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some(key) = &gateway.new_admin_key {
        println!("admin key (shown once, keep it): {key}");
    }
    // Scripts and tests read this line to learn the port.
    println!("wagate listening on http://{addr}");
    tracing::info!(%addr, "listening");
    gateway.serve(listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn token(args: TokenArgs) -> Result<(), String> {
    let overrides = Overrides { data_dir: args.common.data_dir, ..Default::default() };
    let config = Config::load(args.common.config.as_deref(), &overrides).map_err(|e| e.to_string())?;
    let store =
        Store::open(&config.database_url(), config.database_schema.as_deref()).await.map_err(|e| e.to_string())?;
    let directory = TenantDirectory::load(store.pool(), config.quotas).await.map_err(|e| e.to_string())?;
    if !directory.contains(&args.tenant) {
        return Err(format!("unknown tenant '{}'", args.tenant));
    }
    let claims: HashMap<String, Value> = args.claims.into_iter().collect();
    let minted = directory
        .mint(&args.tenant, MintRequest { sub: args.sub, claims: claims.into_iter().collect(), ttl_secs: args.ttl })
        .map_err(|e| e.to_string())?;
    println!("{}", minted.token);
    Ok(())
}

fn new_plugin(name: &str, dir: &std::path::Path, sdk: Option<PathBuf>, lang: Lang) -> Result<(), String> {
    if let Lang::Ts = lang {
        let build = wagate::scaffold::default_ts_build_script()
            .ok_or("cannot find scripts/build-ts-plugin.sh of the wagate checkout this binary was built from")?;
        let created = wagate::scaffold::new_ts_plugin(dir, name, &build)?;
        println!("created {}", created.display());
        let test = build.with_file_name("test-ts-plugin.sh");
        println!("test: {} {}", test.display(), created.display());
        println!("next: {} {} <the gateway's plugins folder>/{name}", build.display(), created.display());
        return Ok(());
    }
    let sdk = sdk
        .or_else(wagate::scaffold::default_sdk_path)
        .ok_or("cannot find plugin-sdk: pass --sdk PATH (the plugin-sdk folder of a wagate checkout)")?;
    let created = wagate::scaffold::new_plugin(dir, name, &sdk)?;
    println!("created {}", created.display());
    println!("next: cd {} && cargo test && {}", created.display(), wagate::scaffold::BUILD_COMMAND);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Everything the gateway writes (database, device credentials, caches) is its user's alone.
    wagate::data_dir::restrict_umask();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Token(args) => token(args).await,
        Command::Plugin(PluginCommand::New { name, dir, sdk, lang }) => new_plugin(&name, &dir, sdk, lang),
        Command::Openapi => {
            wagate::api::openapi().to_pretty_json().map(|json| println!("{json}")).map_err(|e| e.to_string())
        }
        Command::EventsSchema => serde_json::to_string_pretty(&wagate_model::schema::events_json_schema())
            .map(|json| println!("{json}"))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wagate: {e}");
            ExitCode::FAILURE
        }
    }
}
