//! `workbench spotify …`: login, logout, import-liked, playlists.

use crate::cli::{SpotifyCommand, SpotifyImportArgs, SpotifyLoginArgs, SpotifyPlaylistsArgs};
use anyhow::Result;
use workbench::spotify::{library, login, playlists, settings::SpotifySettings, token_store};

pub fn run(command: SpotifyCommand) -> Result<()> {
    let settings = SpotifySettings::resolve()?;
    match command {
        SpotifyCommand::Login(args) => log_in(&settings, args),
        SpotifyCommand::Logout => log_out(&settings),
        SpotifyCommand::ImportLiked(args) => import_liked(&settings, args),
        SpotifyCommand::Playlists(args) => sync_playlists(&settings, args),
    }
}

fn log_in(settings: &SpotifySettings, args: SpotifyLoginArgs) -> Result<()> {
    let outcome = login::login(
        settings,
        &login::LoginOptions {
            port: args.port.unwrap_or(settings.redirect_port),
            timeout: std::time::Duration::from_secs(args.timeout),
        },
        |url| {
            println!("Open this URL in a browser to log in to Spotify:\n{url}");
            eprintln!("waiting for Spotify's redirect (Ctrl-C to stop)...");
        },
    )?;
    println!(
        "logged in as {}; token stored in {} (mode 600)",
        outcome.user,
        outcome.token_path.display()
    );
    Ok(())
}

fn log_out(settings: &SpotifySettings) -> Result<()> {
    let store = token_store::TokenStore::new(&settings.token_path);
    if store.remove()? {
        println!("logged out: removed {}", settings.token_path.display());
    } else {
        println!(
            "not logged in (no token at {})",
            settings.token_path.display()
        );
    }
    Ok(())
}

fn import_liked(settings: &SpotifySettings, args: SpotifyImportArgs) -> Result<()> {
    let summary = library::import_liked(
        settings,
        &library::ImportOptions {
            out: args.out,
            songs: workbench::defaults::song_model(args.songs.as_deref())?.path,
            catalogs: args.catalogs,
            features_endpoint: !args.no_features_endpoint,
        },
    )?;
    if let Some(why) = summary.endpoint.explanation() {
        eprintln!("{why}");
    }
    println!("{}", summary.coverage());
    if summary.local_files > 0 {
        println!(
            "{} local files skipped (they have no Spotify id)",
            summary.local_files
        );
    }
    let without = summary.songs - summary.with_features;
    if without > 0 {
        println!(
                    "{without} songs have no features: none of the tables tried lists them (add one with --catalog; see datasets/README.md)"
                );
    }
    println!(
        "library: {} ({} songs; feature columns: {})",
        summary.out.display(),
        summary.songs,
        summary.features.join(", ")
    );
    Ok(())
}

fn sync_playlists(settings: &SpotifySettings, args: SpotifyPlaylistsArgs) -> Result<()> {
    let summary = playlists::sync(
        settings,
        &playlists::PlaylistOptions {
            library: args.library,
            songs: workbench::defaults::song_model(args.songs.as_deref())?.path,
            dry_run: args.dry_run,
        },
    )?;
    println!(
        "{} liked songs placed in moods ({} rows in {}, {} without features)",
        summary.placed,
        summary.library.rows_read,
        summary.library.path,
        summary.library.rows_read - summary.library.rows_used
    );
    for p in &summary.playlists {
        let action = match p.action {
            playlists::Action::Created => "created",
            playlists::Action::Updated => "updated",
            playlists::Action::WouldCreate => "would be created",
            playlists::Action::WouldUpdate => "would be updated",
            playlists::Action::Planned => "planned",
        };
        println!(
            "{:<22} {:>5} songs  {action:<16} {}",
            p.name,
            p.songs,
            p.url.as_deref().unwrap_or("")
        );
    }
    for d in &summary.duplicates {
        println!("note: another playlist of yours is also named {d}; it was left alone");
    }
    if args.dry_run {
        println!(
            "dry run: nothing changed{}",
            if summary.logged_in {
                ""
            } else {
                " (not logged in, so existing playlists were not looked up)"
            }
        );
    }
    Ok(())
}
