//! Labels of the pages in English and Simplified Chinese (zh-CN), chosen from the browser's
//! `Accept-Language` (the highest-weighted language we have; English otherwise). Owns only the
//! words; no HTML. A label is looked up by a stable key (`"wb.dial_level"`); every key has both
//! languages (a unit test checks the table).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language of a request: the first language of `Accept-Language` by weight that we have.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept)
            .unwrap_or(Lang::En)
    }

    /// Parses an `Accept-Language` value (`zh-CN,zh;q=0.9,en;q=0.8`).
    pub fn from_accept(value: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                _ => continue,
            };
            // Ties keep the earlier entry, as the header lists preferences in order.
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The label `key` in this language; the key itself (and a debug log) if it is missing.
    pub fn t(self, key: &'static str) -> &'static str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, zh)) => match self {
                Lang::En => en,
                Lang::Zh => zh,
            },
            None => {
                tracing::debug!(key, "label missing");
                key
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_headers(&parts.headers))
    }
}

/// (key, English, Chinese).
const LABELS: &[(&str, &str, &str)] = &[
    // Shell
    ("app.name", "outdial", "outdial"),
    ("nav.wallboard", "Wallboard", "实时监控"),
    ("nav.desk", "Agent desktop", "坐席工作台"),
    ("nav.records", "Call records", "通话记录"),
    ("nav.logout", "Log out", "退出"),
    ("nav.signed_in_as", "Signed in as", "当前用户"),
    ("login.title", "Sign in", "登录"),
    ("login.token", "Access token", "访问令牌"),
    ("login.submit", "Sign in", "登录"),
    ("login.bad_token", "That token is not valid.", "令牌无效。"),
    (
        "login.expired",
        "Your session has ended: sign in again.",
        "会话已过期，请重新登录。",
    ),
    (
        "login.hint",
        "Ask your administrator for a token (admin.tokens in the engine config).",
        "请向管理员索取令牌（引擎配置中的 admin.tokens）。",
    ),
    (
        "err.forbidden",
        "Not allowed for your role.",
        "您的角色无权执行此操作。",
    ),
    ("err.not_found", "No such page.", "页面不存在。"),
    ("live.connecting", "Connecting…", "连接中…"),
    ("live.live", "Live", "实时"),
    (
        "live.lost",
        "Connection lost, retrying…",
        "连接中断，正在重试…",
    ),
    // Wallboard: campaigns
    ("wb.title", "Wallboard", "实时监控"),
    ("wb.campaigns", "Campaigns", "外呼活动"),
    ("wb.campaign", "Campaign", "活动"),
    ("wb.mode", "Mode", "模式"),
    ("wb.dial_level", "Dial level", "拨号比"),
    ("wb.ringing", "Ringing", "振铃"),
    ("wb.waiting", "Waiting", "等待"),
    ("wb.connected", "Connected", "通话中"),
    ("wb.live_answers", "Live answers", "真人接听"),
    (
        "wb.abandon",
        "Abandon run / 24 h / 30 d",
        "放弃率 本次 / 24小时 / 30天",
    ),
    ("wb.cap", "cap", "上限"),
    ("wb.target", "target", "目标"),
    ("wb.occupancy", "Occupancy", "占用率"),
    ("wb.mean_wait", "Mean wait", "平均等待"),
    ("wb.dialable", "Dialable now", "当前可拨"),
    ("wb.sla_risk", "SLA at risk", "SLA 风险"),
    ("wb.verdicts", "CPA verdicts", "呼叫进程分析"),
    ("wb.paused", "Paused", "已暂停"),
    ("wb.running", "Running", "运行中"),
    (
        "wb.trend",
        "Last hour: occupancy / abandon",
        "近一小时：占用率 / 放弃率",
    ),
    // Wallboard: agents and trunks
    ("wb.agents", "Agents", "坐席"),
    ("wb.agent", "Agent", "坐席"),
    ("wb.state", "State", "状态"),
    ("wb.in_state", "In state", "持续时间"),
    ("wb.calls_today", "Calls today", "今日通话"),
    ("wb.trunks", "Trunks", "中继"),
    ("wb.trunk", "Trunk", "中继"),
    ("wb.channels", "Channels in use / max", "占用通道 / 最大"),
    ("wb.cps", "Calls/s", "每秒呼叫"),
    ("wb.health", "Health", "状态"),
    ("wb.last_error", "Last error", "最近错误"),
    ("wb.up", "up", "正常"),
    ("wb.down", "down", "故障"),
    // Wallboard: controls and audit
    ("wb.controls", "Controls", "控制"),
    ("wb.ratio", "Ratio", "比率"),
    ("wb.max_ratio", "Max ratio", "最大比率"),
    ("wb.target_abandon", "Target abandon", "目标放弃率"),
    ("wb.apply", "Apply", "应用"),
    ("wb.pause", "Pause", "暂停"),
    ("wb.resume", "Resume", "恢复"),
    (
        "wb.confirm_pause",
        "Pause dialling for this campaign?",
        "确定暂停此活动的拨号吗？",
    ),
    (
        "wb.confirm_resume",
        "Resume dialling for this campaign?",
        "确定恢复此活动的拨号吗？",
    ),
    ("wb.logout_agent", "Log out", "签出"),
    (
        "wb.confirm_logout",
        "Log this agent out?",
        "确定签出该坐席吗？",
    ),
    ("wb.applied", "Applied.", "已应用。"),
    ("wb.audit", "Audit trail", "审计记录"),
    ("wb.when", "When", "时间"),
    ("wb.who", "Who", "操作人"),
    ("wb.field", "Field", "字段"),
    ("wb.old", "Old", "原值"),
    ("wb.new", "New", "新值"),
    ("wb.none", "none", "无"),
    ("state.logged_out", "logged out", "已签出"),
    ("state.ready", "ready", "就绪"),
    ("state.reserved", "reserved", "预留"),
    ("state.talking", "talking", "通话中"),
    ("state.wrap_up", "wrap-up", "话后处理"),
    ("state.paused", "paused", "暂停"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_preferred_language_we_have() {
        assert_eq!(Lang::from_accept("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept("en-GB,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept("fr-FR,zh-TW;q=0.5,en;q=0.4"), Lang::Zh);
        assert_eq!(Lang::from_accept("en;q=0.3, zh;q=0.7"), Lang::Zh);
        assert_eq!(Lang::from_accept("de"), Lang::En);
        assert_eq!(Lang::from_accept(""), Lang::En);
        assert_eq!(Lang::from_accept("zh;q=0"), Lang::En);
    }

    #[test]
    fn every_label_has_both_languages_once() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in LABELS {
            assert!(seen.insert(*k), "label {k} twice");
            assert!(
                !en.is_empty() && !zh.is_empty(),
                "label {k} lacks a language"
            );
        }
        assert_eq!(Lang::Zh.t("wb.pause"), "暂停");
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
    }
}
