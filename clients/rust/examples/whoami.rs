//! `cargo run -p fenghuo-client --example whoami -- [ENDPOINT] [PKI_DIR]`
//! Connects with a demo organisation's certificate and prints who the server says it is.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "https://127.0.0.1:50051".into());
    let dir = args
        .next()
        .unwrap_or_else(|| "fenghuo-data/pki/clients/telecom-gd".into());
    let mut client = fenghuo_client::Client::connect_dir(&endpoint, &dir).await?;
    if let Ok(token) = std::env::var("FENGHUO_TOKEN") {
        client = client.with_token(&token)?;
    }
    let me = client
        .registry()
        .who_am_i(fenghuo_client::pb::WhoAmIRequest {})
        .await?
        .into_inner();
    let org = me.organisation.unwrap_or_default();
    println!("organisation: {} ({})", org.id, org.name);
    println!("province:     {}", org.province);
    println!("certificate:  {}", me.certificate_fingerprint);
    if !me.officer.is_empty() {
        println!("officer:      {}", me.officer);
    }
    Ok(())
}
