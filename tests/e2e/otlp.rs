//! `fenghuo serve --otlp-endpoint`: each call's span reaches an OTLP collector (one written
//! here from the OpenTelemetry protocol definitions) with the caller's organisation and the
//! status code, and nothing secret.

use std::sync::{Arc, Mutex};

use fenghuo_client::{Client, pb};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_a_span_with_its_caller_and_status_and_no_secret() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["serve", "--listen", "127.0.0.1:0", "--otlp-endpoint", &otlp])
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("FENGHUO_LOG")
        .env_remove("FENGHUO_CONFIG")
        .env_remove("FENGHUO_DATABASE_URL")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut endpoint = None;
    for _ in 0..600 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("fenghuo listening on ").nth(1) {
            endpoint = Some(format!(
                "https://{}",
                rest.split_whitespace().next().unwrap()
            ));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let endpoint = endpoint.expect("the server starts");
    let telecom = Client::connect_dir(&endpoint, data_dir.join("pki/clients/telecom-gd"))
        .await
        .unwrap();
    telecom.who_am_i().await.unwrap();
    let refused = telecom
        .disposal()
        .issue_decision(pb::IssueDecisionRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused}");

    // A stop flushes the exporter.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );

    let spans = collector.0.lock().unwrap().clone();
    let call = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no span {name} among {:?}",
                    spans.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
            .clone()
    };
    let who = call("fenghuo.v1.RegistryService/WhoAmI");
    assert_eq!(
        attribute(&who, "fenghuo.organisation").as_deref(),
        Some("telecom-gd")
    );
    assert_eq!(
        attribute(&who, "rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    assert_eq!(attribute(&who, "rpc.system").as_deref(), Some("grpc"));
    let import = call("fenghuo.v1.DisposalService/IssueDecision");
    assert_eq!(
        attribute(&import, "rpc.grpc.status_code").as_deref(),
        Some("7")
    );
    assert_eq!(
        attribute(&import, "fenghuo.organisation").as_deref(),
        Some("telecom-gd")
    );
    for span in &spans {
        for kv in &span.attributes {
            let text = format!("{:?}", kv.value);
            assert!(
                !text.contains("PRIVATE KEY") && !text.contains("eyJ"),
                "span {} attribute {} looks secret",
                span.name,
                kv.key
            );
        }
    }
}
