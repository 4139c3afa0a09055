//! The values in the load generator's logs: a busy web front's nginx access log (client
//! population with their user agents, request lines over APIs, assets, images and pages, a status
//! mix, sizes and request times that depend on what was asked, upstreams), varied enough that a
//! batch compresses like a real one (LZ4 ≈ 0.2) and not absurdly well. Also extra and synthetic
//! fields, and the nginx combined text line that the text-line formats carry.

use rand::rngs::StdRng;
use rand::Rng;

/// The ten nginx fields of the batch, in log order.
pub const NGINX_FIELDS: [&str; 10] = [
    "remote_addr",
    "remote_user",
    "time_local",
    "request",
    "status",
    "body_bytes_sent",
    "http_referer",
    "http_user_agent",
    "request_time",
    "upstream_addr",
];

/// User-agent templates with their share of clients; each client fills `{v}` with its own
/// version from the range, so the population holds many variants as real traffic does.
const USER_AGENTS: &[(&str, u32, u32, u32)] = &[
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36", 14, 109, 125),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} Safari/605.1.15", 6, 0, 5),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} Mobile/15E148 Safari/604.1", 7, 0, 5),
    ("Mozilla/5.0 (Linux; Android {v}; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", 6, 10, 14),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", 3, 115, 125),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", 3, 115, 125),
    ("okhttp/4.{v}.0", 10, 9, 12),
    ("Dalvik/2.1.0 (Linux; U; Android 13; SM-S91{v}B Build/TP1A.220624.014)", 7, 1, 8),
    ("ShopApp/5.3.{v} (iPhone; iOS 17.4.1; Scale/3.00)", 10, 0, 9),
    ("ShopApp/5.2.{v} (Android 14; Pixel 7)", 6, 0, 9),
    ("curl/8.{v}.0", 3, 0, 7),
    ("python-requests/2.{v}.0", 3, 25, 31),
    ("Go-http-client/1.1", 4, 0, 0),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 2, 0, 0),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1, 0, 0),
];

const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const RESOURCES: &[&str] = &["users", "orders", "products", "carts", "sessions", "payments", "inventory", "reviews"];
const CATEGORIES: &[&str] = &["shoes", "jackets", "bags", "watches", "kitchen", "garden", "toys", "books", "audio"];
const WORDS: &[&str] = &[
    "red", "blue", "running", "leather", "wireless", "organic", "vintage", "kids", "winter", "sale", "steel", "cotton",
    "smart", "mini", "pro", "classic", "outdoor", "travel", "home", "sport", "black", "white", "gift", "new",
];
const PAGES: &[&str] = &["/", "/cart", "/checkout", "/login", "/account/orders", "/deals", "/help/shipping"];

/// What a request asked for: it decides the status mix, the size and who served it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Api,
    Asset,
    Image,
    Page,
    Probe,
}

/// One simulated web front: its client population (each client keeps its address, user agent
/// and login), its upstreams and its current asset hashes. One per corpus body, from its seed.
pub struct Site {
    clients: Vec<(String, String, &'static str)>,
    upstreams: Vec<String>,
    asset_hashes: Vec<String>,
    host: String,
}

impl Site {
    pub fn new(rng: &mut StdRng) -> Site {
        let first_octets = [1u8, 14, 23, 27, 36, 42, 49, 58, 61, 77, 81, 91, 101, 103, 112, 117, 121, 176, 185, 203];
        let clients = (0..3000)
            .map(|_| {
                let ip = format!(
                    "{}.{}.{}.{}",
                    first_octets[rng.random_range(0..first_octets.len())],
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    rng.random_range(1..255)
                );
                let ua = user_agent(rng);
                let user = if rng.random_bool(0.05) { USERS[rng.random_range(0..USERS.len())] } else { "-" };
                (ip, ua, user)
            })
            .collect();
        let upstreams = (0..12).map(|i| format!("10.12.{}.{}:8080", i % 4, 10 + rng.random_range(0..40) + i)).collect();
        let asset_hashes = (0..10).map(|_| format!("{:08x}", rng.random::<u32>())).collect();
        Site { clients, upstreams, asset_hashes, host: "shop.example.com".to_string() }
    }

    /// The ten values of one access, in [`NGINX_FIELDS`] order.
    pub fn access(&self, rng: &mut StdRng, time_local: &str) -> Vec<String> {
        let kind = match rng.random_range(0..100) {
            0..=37 => Kind::Api,
            38..=55 => Kind::Asset,
            56..=75 => Kind::Image,
            76..=95 => Kind::Page,
            _ => Kind::Probe,
        };
        let (addr, ua, user) = if kind == Kind::Probe {
            (format!("10.12.{}.{}", rng.random_range(0..4), rng.random_range(2..6)), "kube-probe/1.29".to_string(), "-")
        } else {
            // A few clients make most requests.
            let i = (rng.random::<f64>().powi(2) * self.clients.len() as f64) as usize;
            let (ip, ua, user) = &self.clients[i.min(self.clients.len() - 1)];
            (ip.clone(), ua.clone(), *user)
        };
        let (method, path) = self.request(rng, kind);
        let proto = if rng.random_bool(0.85) { "HTTP/1.1" } else { "HTTP/2.0" };
        let status = status(rng, kind, method);
        let bytes = body_bytes(rng, kind, status);
        let referer = match kind {
            Kind::Probe => "-".to_string(),
            _ if rng.random_bool(0.55) => "-".to_string(),
            _ if rng.random_bool(0.5) => format!("https://{}{}", self.host, PAGES[rng.random_range(0..PAGES.len())]),
            _ => format!(
                "https://{}/product/{}-{}",
                self.host,
                CATEGORIES[rng.random_range(0..CATEGORIES.len())],
                rng.random_range(1..250_000)
            ),
        };
        let local = matches!(kind, Kind::Asset | Kind::Image) && status != 502;
        let request_time =
            if local { rng.random_range(0.0..0.012) } else { (-0.06 * (1.0 - rng.random::<f64>()).ln()).min(30.0) };
        let upstream = if local {
            "-".to_string()
        } else if rng.random_bool(0.01) {
            let (a, b) = (rng.random_range(0..self.upstreams.len()), rng.random_range(0..self.upstreams.len()));
            format!("{}, {}", self.upstreams[a], self.upstreams[b])
        } else {
            self.upstreams[rng.random_range(0..self.upstreams.len())].clone()
        };
        vec![
            addr,
            user.to_string(),
            time_local.to_string(),
            format!("{method} {path} {proto}"),
            status.to_string(),
            bytes.to_string(),
            referer,
            ua,
            format!("{request_time:.3}"),
            upstream,
        ]
    }

    fn request(&self, rng: &mut StdRng, kind: Kind) -> (&'static str, String) {
        match kind {
            Kind::Api => {
                let method = match rng.random_range(0..100) {
                    0..=69 => "GET",
                    70..=89 => "POST",
                    90..=95 => "PUT",
                    _ => "DELETE",
                };
                let resource = RESOURCES[rng.random_range(0..RESOURCES.len())];
                let version = if rng.random_bool(0.7) { 1 } else { 2 };
                let path = match rng.random_range(0..4) {
                    0 => format!("/api/v{version}/{resource}"),
                    // Listings are reads; single-page apps add a cache-busting timestamp.
                    1 if method == "GET" && rng.random_bool(0.4) => format!(
                        "/api/v{version}/{resource}?page={}&_t={}",
                        rng.random_range(1..40),
                        1_700_000_000_000u64 + rng.random_range(0..100_000_000_000u64)
                    ),
                    1 if method == "GET" => format!(
                        "/api/v{version}/{resource}?page={}&size={}",
                        rng.random_range(1..40),
                        [10, 20, 50][rng.random_range(0..3)]
                    ),
                    2 => format!("/api/v{version}/{resource}/{}/items", rng.random_range(1..9_000_000)),
                    _ => format!("/api/v{version}/{resource}/{}", rng.random_range(1..9_000_000)),
                };
                (method, path)
            }
            Kind::Asset => {
                let name = ["app", "vendor", "main", "runtime", "chunk-common"][rng.random_range(0..5)];
                let hash = &self.asset_hashes[rng.random_range(0..self.asset_hashes.len())];
                let ext = if rng.random_bool(0.7) { "js" } else { "css" };
                ("GET", format!("/static/{ext}/{name}.{hash}.{ext}"))
            }
            Kind::Image => {
                let size = ["thumb", "medium", "large"][rng.random_range(0..3)];
                let ext = ["jpg", "webp", "png"][rng.random_range(0..3)];
                ("GET", format!("/images/products/{}/{size}.{ext}", rng.random_range(1..250_000)))
            }
            Kind::Page => {
                let path = match rng.random_range(0..4) {
                    0 => PAGES[rng.random_range(0..PAGES.len())].to_string(),
                    1 => format!(
                        "/product/{}-{}-{}",
                        WORDS[rng.random_range(0..WORDS.len())],
                        CATEGORIES[rng.random_range(0..CATEGORIES.len())],
                        rng.random_range(1..250_000)
                    ),
                    2 => format!(
                        "/category/{}?sort={}&page={}",
                        CATEGORIES[rng.random_range(0..CATEGORIES.len())],
                        ["price", "new", "popular"][rng.random_range(0..3)],
                        rng.random_range(1..20)
                    ),
                    _ => format!(
                        "/search?q={}+{}",
                        WORDS[rng.random_range(0..WORDS.len())],
                        WORDS[rng.random_range(0..WORDS.len())]
                    ),
                };
                (if rng.random_bool(0.98) { "GET" } else { "HEAD" }, path)
            }
            Kind::Probe => ("GET", ["/health", "/metrics", "/favicon.ico"][rng.random_range(0..3)].to_string()),
        }
    }
}

fn status(rng: &mut StdRng, kind: Kind, method: &str) -> u16 {
    let roll = rng.random_range(0..1000);
    match kind {
        Kind::Probe => 200,
        Kind::Asset | Kind::Image => match roll {
            0..=689 => 200,
            690..=949 => 304,
            950..=994 => 404,
            _ => 502,
        },
        Kind::Api => match roll {
            0..=859 if method == "POST" => 201,
            0..=859 => 200,
            860..=889 => 400,
            890..=914 => 401,
            915..=954 => 404,
            955..=964 => 499,
            965..=979 => 500,
            980..=989 => 502,
            _ => 503,
        },
        Kind::Page => match roll {
            0..=869 => 200,
            870..=909 => 302,
            910..=969 => 404,
            _ => 500,
        },
    }
}

fn body_bytes(rng: &mut StdRng, kind: Kind, status: u16) -> u64 {
    if status == 304 {
        return 0;
    }
    let (lo, hi) = match (kind, status) {
        (Kind::Probe, _) => (2.0, 40.0),
        (_, 400..) => (150.0, 700.0),
        (Kind::Asset, _) => (8_000.0, 450_000.0),
        (Kind::Image, _) => (3_000.0, 260_000.0),
        (Kind::Api, _) => (40.0, 14_000.0),
        (Kind::Page, _) => (2_000.0, 90_000.0),
    };
    // Log-uniform: sizes spread over orders of magnitude, as real ones do.
    (lo * f64::powf(hi / lo, rng.random::<f64>())).round() as u64
}

/// A client's user agent: a template picked by weight, with the client's own version.
fn user_agent(rng: &mut StdRng) -> String {
    let total: u32 = USER_AGENTS.iter().map(|ua| ua.1).sum();
    let mut roll = rng.random_range(0..total);
    let mut chosen = &USER_AGENTS[0];
    for ua in USER_AGENTS {
        if roll < ua.1 {
            chosen = ua;
            break;
        }
        roll -= ua.1;
    }
    let (template, _, lo, hi) = chosen;
    template.replace("{v}", &rng.random_range(*lo..=*hi).to_string())
}

/// The value of field `index` (10 and up) beyond the nginx ten: request ids, small numbers, words.
pub fn extra_value(rng: &mut StdRng, index: usize) -> String {
    match index % 3 {
        0 => format!("{:016x}", rng.random::<u64>()),
        1 => rng.random_range(0..100_000).to_string(),
        _ => WORDS[rng.random_range(0..WORDS.len())].to_string(),
    }
}

/// A synthetic value of exactly `bytes` bytes: words and numbers, text that compresses about as
/// well as application log messages do.
pub fn synthetic_value(rng: &mut StdRng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        if !out.is_empty() {
            out.push(' ');
        }
        if rng.random_bool(0.25) {
            out.push_str(&rng.random_range(0..1_000_000).to_string());
        } else {
            out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        }
    }
    out.truncate(bytes);
    out
}

/// nginx `$time_local` (`23/Nov/2026:12:24:47 +0000`) of a unix time, in UTC.
pub fn time_local(unix: u32) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::from(unix)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        [usize::from(u8::from(t.month())) - 1];
    format!("{:02}/{month}/{}:{:02}:{:02}:{:02} +0000", t.day(), t.year(), t.hour(), t.minute(), t.second())
}

/// The nginx `combined` line (plus `$request_time $upstream_addr`) of values in
/// [`NGINX_FIELDS`] order.
pub fn combined_line(v: &[String]) -> String {
    format!("{} - {} [{}] \"{}\" {} {} \"{}\" \"{}\" {} {}", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn time_local_is_nginx_shaped() {
        assert_eq!(time_local(1_700_000_000), "14/Nov/2023:22:13:20 +0000");
    }

    #[test]
    fn accesses_vary_and_lines_are_combined_format() {
        let mut rng = StdRng::seed_from_u64(7);
        let site = Site::new(&mut rng);
        let accesses: Vec<Vec<String>> = (0..500).map(|_| site.access(&mut rng, "t")).collect();
        assert!(accesses.iter().all(|a| a.len() == NGINX_FIELDS.len()));
        let statuses: std::collections::BTreeSet<&str> = accesses.iter().map(|a| a[4].as_str()).collect();
        assert!(statuses.len() >= 5, "a status mix: {statuses:?}");
        let requests: std::collections::BTreeSet<&str> = accesses.iter().map(|a| a[3].as_str()).collect();
        assert!(requests.len() > 300, "request lines vary");
        let line = combined_line(&accesses[0]);
        assert!(line.contains(" [t] \"") && line.contains(&accesses[0][7]));
        assert_eq!(synthetic_value(&mut rng, 37).len(), 37);
    }
}
