pub mod pb {
    tonic::include_proto!("fenghuo.v1");
}
