//! The console's words in Chinese and English: one table, looked up by key from the
//! templates (`l.t("key")`) and by protobuf enum name (`l.e(name)`). A test checks that
//! every key a template uses is in the table.

/// The language a page is rendered in: the `lang` cookie, else the browser's
/// Accept-Language (English only when it prefers English), else Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_request(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        let from_cookie = cookie.and_then(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| *k == "lang")
                .map(|(_, v)| v.trim())
        });
        match from_cookie {
            Some("en") => Lang::En,
            Some("zh") => Lang::Zh,
            _ => match accept_language.map(str::trim_start) {
                Some(a) if a.starts_with("en") => Lang::En,
                _ => Lang::Zh,
            },
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The page's words.
    pub fn t(self, key: &str) -> &'static str {
        match WORDS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => "?",
        }
    }

    /// A protobuf enum value's name ("NOTICE_STATE_ISSUED") in words.
    pub fn e(self, name: &str) -> String {
        match ENUMS.iter().find(|(k, _, _)| *k == name) {
            Some((_, zh, en)) => match self {
                Lang::Zh => (*zh).to_owned(),
                Lang::En => (*en).to_owned(),
            },
            None => name.to_owned(),
        }
    }
}

/// (key, Chinese, English).
pub const WORDS: &[(&str, &str, &str)] = &[
    (
        "app",
        "烽火 · 网络安全威胁监测与处置",
        "Fenghuo · threat monitoring and disposal",
    ),
    ("nav.dashboard", "态势总览", "Dashboard"),
    ("nav.identification", "认定队列", "Identification queue"),
    ("nav.threats", "威胁", "Threats"),
    ("nav.notices", "处置通知", "Notices"),
    ("nav.compliance", "未履行记录", "Non-compliance"),
    ("nav.appeals", "申诉", "Appeals"),
    ("nav.bulletins", "月度通报", "Bulletins"),
    ("signed_in_as", "当前证书", "Certificate of"),
    ("today", "今日", "Today"),
    ("this_month", "本月", "This month"),
    ("threats", "威胁", "Threats"),
    ("sightings", "报告", "Reports"),
    ("notices_issued", "已发处置通知", "Notices issued"),
    ("receipts_on_time", "按时签收率", "Receipts on time"),
    ("results_on_time", "按时反馈率", "Results on time"),
    ("verified_effective", "核查有效", "Verified effective"),
    ("appeals_filed", "申诉受理", "Appeals filed"),
    ("appeals_open", "待答复申诉", "Appeals open"),
    ("appeals_overdue", "逾期未答复", "Answers overdue"),
    ("by_category", "按类别", "By category"),
    ("by_day", "按日", "By day"),
    (
        "by_province",
        "按责任单位所在省份",
        "By province of the responsible unit",
    ),
    ("category", "类别", "Category"),
    ("indicator", "指标", "Indicator"),
    ("status", "状态", "Status"),
    ("grade", "事件分级", "Event grade"),
    ("first_seen", "首次发现", "First seen"),
    ("last_seen", "最近发现", "Last seen"),
    ("reporter", "报告单位", "Reporter"),
    ("received_at", "接收时间", "Received"),
    ("tlp", "TLP", "TLP"),
    ("late", "逾期报送", "Reported late"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("search", "查询", "Search"),
    ("any", "全部", "any"),
    ("next_page", "下一页", "Next page"),
    ("none", "无", "None"),
    ("detail", "详情", "Details"),
    ("id", "编号", "ID"),
    ("identify", "认定 (第七条)", "Identify (Art. 7)"),
    ("outcome", "结论", "Outcome"),
    ("reason", "理由", "Reason"),
    (
        "grade_reason",
        "分级理由 (与门限分级不同时必填)",
        "Grade reason (required when it differs from the threshold grade)",
    ),
    ("potential_harm", "潜在危害", "Potential harm"),
    ("officer_token", "值班人员令牌 (JWT)", "Officer token (JWT)"),
    (
        "officer_token_help",
        "由本单位签发、绑定本证书、有效期不超过15分钟",
        "Signed by your organisation, bound to this certificate, at most 15 minutes",
    ),
    ("submit", "提交", "Submit"),
    (
        "issue_decision",
        "下达处置决定 (第八条)",
        "Issue a decision (Art. 8)",
    ),
    ("measure_type", "处置措施", "Measure"),
    ("target_kind", "对象类型", "Target kind"),
    ("target_value", "对象", "Target"),
    ("legal_basis", "法律依据", "Legal basis"),
    ("instructions", "处置要求", "Instructions"),
    ("time_limit", "处置时限", "Time limit"),
    ("hours", "小时", "hours"),
    ("working_days", "工作日", "working days"),
    ("addressee", "接收单位", "Addressee"),
    (
        "addressee_help",
        "留空则按归属登记自动确定 (第九条)",
        "Empty: routed by the ownership registry (Art. 9)",
    ),
    ("notice", "通知", "Notice"),
    ("kind", "类型", "Kind"),
    ("issued_at", "下达时间", "Issued"),
    ("deadline", "处置期限", "Deadline"),
    ("state", "状态", "State"),
    ("overdue", "逾期", "Overdue"),
    ("issuer", "下达单位", "Issuer"),
    ("officer", "经办人", "Officer"),
    ("targets", "处置对象", "Targets"),
    ("result", "处置结果", "Result"),
    ("verification", "核查", "Verification"),
    ("signature_key", "签名密钥", "Signing key"),
    ("appeal_window", "申诉期", "Appeal window"),
    ("decision", "决定", "Decision"),
    ("due", "期限", "Due"),
    ("recorded_at", "记录时间", "Recorded"),
    ("fulfilled_at", "补正时间", "Fulfilled"),
    ("enforcement", "执法记录", "Enforcement"),
    ("art12_breach", "第十二条违规", "Art. 12 breach"),
    ("organisation", "单位", "Organisation"),
    ("province", "省份", "Province"),
    ("appeal", "申诉", "Appeal"),
    ("appellant", "申诉人", "Appellant"),
    ("filed_on", "受理日期", "Filed on"),
    ("answer_due_on", "答复期限", "Answer due"),
    ("working_days_left", "剩余工作日", "Working days left"),
    ("grounds", "申诉理由", "Grounds"),
    ("answer", "答复 (第十条)", "Answer (Art. 10)"),
    (
        "answer_help",
        "维持或撤销；变更措施请使用 CLI 或 gRPC (需填写新的措施)",
        "Uphold or revoke; to modify, use the CLI or gRPC (it needs the replacement measures)",
    ),
    (
        "lift_hours",
        "解除时限 (小时，撤销时)",
        "Lift within (hours, when revoking)",
    ),
    ("reasons", "答复理由", "Reasons"),
    (
        "calendar_unknown",
        "日历尚未载入该年",
        "calendar year not loaded",
    ),
    ("error", "请求未完成", "The request was refused"),
    ("back", "返回", "Back"),
    ("done", "已完成", "Done"),
    (
        "decision_issued",
        "处置决定已下达，通知已签名并送达",
        "The decision was issued; its notices are signed and delivered",
    ),
    (
        "identified",
        "认定已记录",
        "The identification was recorded",
    ),
    ("answered", "答复已记录", "The answer was recorded"),
    ("acknowledged", "已签收", "Receipt acknowledged"),
    ("reported", "处置结果已反馈", "The result was reported"),
    (
        "verified",
        "核查结果已记录",
        "The verification was recorded",
    ),
    ("acknowledge", "签收 (送达)", "Acknowledge receipt"),
    (
        "acknowledge_help",
        "签收记录所显示通知正文的 SHA-256",
        "The acknowledgement records the SHA-256 of the body shown",
    ),
    (
        "report_result",
        "反馈处置结果 (第九条)",
        "Report the result (Art. 9)",
    ),
    (
        "verify_result",
        "核查处置结果 (第九条)",
        "Verify the result (Art. 9)",
    ),
    ("details", "说明", "Details"),
    ("contact_person", "责任人", "Responsible person"),
    ("contact_phone", "联系电话", "Phone"),
    ("month", "月份", "Month"),
    ("language", "语言", "Language"),
    ("publisher", "发布单位", "Publisher"),
    ("published_at", "发布时间", "Published"),
    ("download_pdf", "下载 PDF", "Download PDF"),
    (
        "bulletin_help",
        "由发布单位签名；以 fenghuo bulletin get 取回签名与证书链后，用 fenghuo bulletin verify 离线验证 (2009年报告办法第十九条)",
        "Signed by the publisher: fetch the signature and chain with fenghuo bulletin get, then verify offline with fenghuo bulletin verify (2009 reporting measures Art. 19)",
    ),
    ("view_html", "查看", "View"),
    ("empty", "暂无记录", "Nothing here"),
];

/// Protobuf enum names in words: (name, Chinese, English).
pub const ENUMS: &[(&str, &str, &str)] = &[
    (
        "THREAT_CATEGORY_MALICIOUS_RESOURCE",
        "恶意网络资源",
        "Malicious resource",
    ),
    (
        "THREAT_CATEGORY_MALICIOUS_PROGRAM",
        "恶意程序",
        "Malicious program",
    ),
    (
        "THREAT_CATEGORY_SECURITY_HAZARD",
        "安全隐患",
        "Security hazard",
    ),
    (
        "THREAT_CATEGORY_SECURITY_INCIDENT",
        "安全事件",
        "Security incident",
    ),
    ("THREAT_CATEGORY_OTHER", "其他", "Other"),
    ("THREAT_STATUS_UNIDENTIFIED", "待认定", "Unidentified"),
    ("THREAT_STATUS_CONFIRMED", "已确认", "Confirmed"),
    ("THREAT_STATUS_REJECTED", "已否定", "Rejected"),
    ("IDENTIFICATION_OUTCOME_CONFIRMED", "确认", "Confirm"),
    ("IDENTIFICATION_OUTCOME_REJECTED", "否定", "Reject"),
    ("EVENT_GRADE_UNSPECIFIED", "未分级", "Not graded"),
    (
        "EVENT_GRADE_PARTICULARLY_SERIOUS",
        "特别重大",
        "Particularly serious",
    ),
    ("EVENT_GRADE_SERIOUS", "重大", "Serious"),
    ("EVENT_GRADE_MAJOR", "较大", "Major"),
    ("EVENT_GRADE_GENERAL", "一般", "General"),
    ("TLP_UNSPECIFIED", "—", "—"),
    ("TLP_CLEAR", "CLEAR", "CLEAR"),
    ("TLP_GREEN", "GREEN", "GREEN"),
    ("TLP_AMBER", "AMBER", "AMBER"),
    ("TLP_AMBER_STRICT", "AMBER+STRICT", "AMBER+STRICT"),
    ("TLP_RED", "RED", "RED"),
    (
        "MEASURE_TYPE_STOP_SERVICE_OR_BLOCK",
        "停止服务或屏蔽",
        "Stop service or block",
    ),
    (
        "MEASURE_TYPE_REMOVE_MALWARE",
        "清除恶意程序",
        "Remove malware",
    ),
    ("MEASURE_TYPE_RECTIFY", "整改", "Rectify"),
    ("MEASURE_TYPE_OTHER", "其他措施", "Other measure"),
    ("MEASURE_TARGET_KIND_IP", "IP 地址", "IP address"),
    (
        "MEASURE_TARGET_KIND_BROADBAND_ACCOUNT",
        "宽带账号",
        "Broadband account",
    ),
    ("MEASURE_TARGET_KIND_DOMAIN", "域名", "Domain"),
    ("MEASURE_TARGET_KIND_URL", "URL", "URL"),
    (
        "MEASURE_TARGET_KIND_EMAIL_ACCOUNT",
        "电子邮件账号",
        "E-mail account",
    ),
    (
        "MEASURE_TARGET_KIND_PHONE_NUMBER",
        "电话号码",
        "Phone number",
    ),
    ("MEASURE_TARGET_KIND_SYSTEM", "信息系统", "System"),
    ("NOTICE_KIND_DISPOSAL", "处置通知", "Disposal"),
    ("NOTICE_KIND_INFORMATIONAL", "告知", "Informational"),
    ("NOTICE_KIND_REVOCATION", "撤销通知", "Revocation"),
    ("NOTICE_STATE_ISSUED", "已送达", "Delivered"),
    (
        "NOTICE_STATE_AWAITING_OFFLINE_NOTIFICATION",
        "待线下通知",
        "Awaiting offline notification",
    ),
    (
        "NOTICE_STATE_NOTIFIED_OFFLINE",
        "已线下通知",
        "Notified offline",
    ),
    ("NOTICE_STATE_RECEIVED", "已签收", "Acknowledged"),
    (
        "NOTICE_STATE_RESULTS_REPORTED",
        "已反馈结果",
        "Result reported",
    ),
    ("NOTICE_STATE_VERIFIED", "已核查", "Verified"),
    ("NOTICE_STATE_REVOKED", "已撤销", "Revoked"),
    ("NOTICE_STATE_LIFTED", "已解除", "Lifted"),
    ("DISPOSAL_OUTCOME_DISPOSED", "已处置", "Disposed"),
    ("DISPOSAL_OUTCOME_NOT_DISPOSED", "未处置", "Not disposed"),
    ("VERIFICATION_OUTCOME_EFFECTIVE", "有效", "Effective"),
    (
        "VERIFICATION_OUTCOME_NOT_EFFECTIVE",
        "无效",
        "Not effective",
    ),
    (
        "NON_COMPLIANCE_KIND_MISSING_RECEIPT",
        "未按时签收",
        "Receipt missing",
    ),
    (
        "NON_COMPLIANCE_KIND_MISSING_RESULT",
        "未按时反馈",
        "Result missing",
    ),
    (
        "NON_COMPLIANCE_KIND_MISSING_LIFT",
        "未按时解除",
        "Lift missing",
    ),
    (
        "NON_COMPLIANCE_KIND_MISSING_VERIFICATION",
        "未按时核查",
        "Verification missing",
    ),
    (
        "NON_COMPLIANCE_KIND_MISSING_OFFLINE_NOTIFICATION",
        "未线下通知",
        "Offline notification missing",
    ),
    ("APPEAL_STATE_OPEN", "待答复", "Open"),
    ("APPEAL_STATE_WITHDRAWN", "已撤回", "Withdrawn"),
    ("APPEAL_STATE_ANSWERED", "已答复", "Answered"),
    ("APPEAL_DECISION_UPHELD", "维持", "Upheld"),
    ("APPEAL_DECISION_REVOKED", "撤销", "Revoked"),
    ("APPEAL_DECISION_MODIFIED", "变更", "Modified"),
    (
        "APPELLANT_KIND_AFFECTED_PARTY",
        "受影响方",
        "Affected party",
    ),
    (
        "APPELLANT_KIND_ADDRESSEE_FOR_CUSTOMER",
        "接收单位代客户",
        "Addressee for its customer",
    ),
    (
        "APPELLANT_KIND_RECORDED_BY_REGULATOR",
        "监管部门登记",
        "Recorded by the regulator",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("…")` in a template names a row of [`WORDS`].
    #[test]
    fn every_key_the_templates_use_has_words() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console/templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split("t(\"").skip(1) {
                let key = &piece[..piece.find('"').unwrap()];
                assert!(
                    WORDS.iter().any(|(k, _, _)| *k == key),
                    "template key {key:?} has no words"
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} keys found");
    }

    #[test]
    fn the_cookie_wins_over_the_browser() {
        assert_eq!(
            Lang::from_request(Some("a=b; lang=en"), Some("zh-CN")),
            Lang::En
        );
        assert_eq!(Lang::from_request(None, Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_request(None, None), Lang::Zh);
        assert_eq!(Lang::En.t("nav.appeals"), "Appeals");
        assert_eq!(Lang::Zh.e("NOTICE_STATE_RECEIVED"), "已签收");
    }
}
