//! A day of ordinary work: for each employed person, a logon to their own PC at their usual
//! time (with jitter), web browsing, mail and USB use spread over the session at their own
//! rates, screen unlocks, the odd session on a shared or a colleague's PC, evening and weekend
//! work for those who do it, and a logoff. Scripted (malicious or careless) rows are added by
//! [`crate::scenario`] with the building blocks of this module.

use jiff::civil::Date;
use rand::RngExt;

use crate::calendar::{DAY_SECONDS, is_workday};
use crate::org::{Organisation, Person};
use crate::record::{Body, CertId, HttpAction, Record, Tag, bag_of_words, token};
use crate::rng::{SimRng, Stream, derive, normal, pick, poisson, weighted};
use crate::scenario::Plan;
use crate::vocab::{Category, DOCUMENT_EXTENSIONS, GENERAL_WORDS, WORK_WORDS, file_header};

/// Everything a day's generation needs to know.
pub struct Day<'a> {
    pub org: &'a Organisation,
    pub plan: &'a Plan,
    pub seed: u64,
    pub index: u32,
    pub date: Date,
    pub workday: bool,
}

impl<'a> Day<'a> {
    pub fn new(org: &'a Organisation, plan: &'a Plan, seed: u64, index: u32, date: Date) -> Self {
        Day {
            org,
            plan,
            seed,
            index,
            date,
            workday: is_workday(date),
        }
    }
}

/// Appends a row with a fresh id.
pub fn emit(
    out: &mut Vec<Record>,
    rng: &mut SimRng,
    second: u32,
    user: u32,
    pc: u16,
    body: Body,
    tag: Option<Tag>,
) {
    let id = CertId::random(rng);
    out.push(Record {
        id,
        second: second.min(DAY_SECONDS - 1),
        user,
        pc,
        body,
        tag,
    });
}

/// A uniformly drawn second in `[from, to]` (or `from` when the range is empty).
pub fn between(rng: &mut SimRng, from: u32, to: u32) -> u32 {
    if to <= from {
        from
    } else {
        rng.random_range(from..=to)
    }
}

/// A web request to a site of `category`.
pub fn http_body(
    rng: &mut SimRng,
    category: Category,
    action: HttpAction,
    extra_words: &[&str],
) -> Body {
    let domain = *pick(rng, category.sites());
    let topic = category.words();
    let path_word = pick(rng, topic);
    let url = format!(
        "http://{domain}/{}/{path_word}/{}{}.{}",
        pick(rng, GENERAL_WORDS),
        token(rng, 4).to_lowercase(),
        rng.random_range(100_000..1_000_000u32),
        pick(rng, &["htm", "html", "php", "jsp", "aspx"])
    );
    let count = rng.random_range(8..20);
    let mut content = bag_of_words(rng, topic, GENERAL_WORDS, count, 0.6);
    for word in extra_words {
        content.push(' ');
        content.push_str(word);
    }
    Body::Http {
        url,
        domain,
        category,
        action,
        content,
    }
}

/// A file copied to removable media, with its header bytes and keywords.
pub fn file_body(rng: &mut SimRng, extension: &str, topic: &[&str]) -> Body {
    let filename = format!("{}.{extension}", token(rng, 8));
    let count = rng.random_range(6..16);
    let words = bag_of_words(rng, topic, GENERAL_WORDS, count, 0.6);
    Body::File {
        filename,
        content: format!("{} {words}", file_header(extension)),
    }
}

/// The work vocabulary of a person's functional unit.
pub fn work_words(person: &Person) -> &'static [&'static str] {
    person
        .unit
        .functional_unit
        .map_or(GENERAL_WORDS, |index| WORK_WORDS[index])
}

/// Mail size in bytes (not counting attachments; uncorrelated with their number, as in CERT).
pub fn mail_size(rng: &mut SimRng) -> u32 {
    let size = 2_000.0 * (1.2 * normal(rng) + 2.0).exp();
    size.clamp(500.0, 5_000_000.0) as u32
}

/// Generates one person's ordinary day into `out`.
pub fn person_day(day: &Day, person: &Person, out: &mut Vec<Record>) {
    if !person.employed_on(day.date) {
        return;
    }
    let mut rng = derive(
        day.seed,
        Stream::PersonDay,
        u64::from(person.index),
        u64::from(day.index),
    );
    let habits = &person.habits;
    let forced = day.plan.needs_session(person.index, day.index);
    let present = if day.workday {
        let sick = rng.random_bool(habits.sick);
        forced || (!sick && !habits.on_vacation(day.date))
    } else {
        let works = rng.random_bool(habits.weekend);
        forced || works
    };
    if !present {
        return;
    }
    let jitter = normal(&mut rng) * habits.start_jitter;
    let mut start = ((habits.start_minute + jitter) * 60.0) as u32 + rng.random_range(0..60);
    let mut length = ((habits.day_minutes + normal(&mut rng) * 20.0) * 60.0) as u32;
    if !day.workday {
        start += rng.random_range(3600..3 * 3600);
        length = rng.random_range(2 * 3600..5 * 3600);
    }
    let end = (start + length).min(DAY_SECONDS - 120);
    let user = person.index;
    // A few logons are missing (dirty data, as in CERT); screen unlocks are logons too.
    if !rng.random_bool(0.003) {
        emit(out, &mut rng, start, user, person.pc, Body::Logon, None);
    }
    if rng.random_bool(0.3) {
        let unlock = between(&mut rng, start + 3 * 3600, end.saturating_sub(600));
        emit(out, &mut rng, unlock, user, person.pc, Body::Logon, None);
    }
    fill_session(
        day,
        person,
        &mut rng,
        start + 30,
        end.saturating_sub(30),
        person.pc,
        1.0,
        out,
    );
    job_hunting(day, person, &mut rng, start, end, out);
    if !rng.random_bool(0.01) {
        emit(out, &mut rng, end, user, person.pc, Body::Logoff, None);
    }
    if day.workday && rng.random_bool(habits.shared_pc) && !day.org.shared_pcs.is_empty() {
        let pc = *pick(&mut rng, &day.org.shared_pcs);
        let from = between(&mut rng, start + 1800, end.saturating_sub(2 * 3600));
        let to = from + rng.random_range(20 * 60..90 * 60);
        emit(out, &mut rng, from, user, pc, Body::Logon, None);
        fill_session(day, person, &mut rng, from + 20, to - 20, pc, 1.0, out);
        emit(out, &mut rng, to, user, pc, Body::Logoff, None);
    }
    if day.workday && rng.random_bool(habits.other_pc) {
        let visits = rng.random_range(1..4);
        for _ in 0..visits {
            let other = day
                .org
                .person(rng.random_range(0..day.org.people.len()) as u32);
            if other.index == user {
                continue;
            }
            let from = between(&mut rng, start + 600, end.saturating_sub(3600));
            let to = from + rng.random_range(5 * 60..30 * 60);
            emit(out, &mut rng, from, user, other.pc, Body::Logon, None);
            if person.role == crate::org::Role::ItAdmin && rng.random_bool(0.3) {
                emit(
                    out,
                    &mut rng,
                    from + 60,
                    user,
                    other.pc,
                    Body::Connect,
                    None,
                );
                emit(
                    out,
                    &mut rng,
                    to - 60,
                    user,
                    other.pc,
                    Body::Disconnect,
                    None,
                );
            }
            emit(out, &mut rng, to, user, other.pc, Body::Logoff, None);
        }
    }
    if day.workday && rng.random_bool(habits.evening) {
        let from = (end + rng.random_range(3600..3 * 3600)).max(19 * 3600 + 1800);
        let to = (from + rng.random_range(30 * 60..2 * 3600)).min(DAY_SECONDS - 60);
        if from + 600 < to {
            emit(out, &mut rng, from, user, person.pc, Body::Logon, None);
            fill_session(
                day,
                person,
                &mut rng,
                from + 30,
                to - 30,
                person.pc,
                0.7,
                out,
            );
            emit(out, &mut rng, to, user, person.pc, Body::Logoff, None);
        }
    }
}

/// Benign leavers who look for a job browse job sites in the weeks before they give notice.
fn job_hunting(
    day: &Day,
    person: &Person,
    rng: &mut SimRng,
    start: u32,
    end: u32,
    out: &mut Vec<Record>,
) {
    let Some(notice) = person.notice_date else {
        return;
    };
    if !day.plan.person(person.index).job_hunting {
        return;
    }
    let days_to_notice = (notice - day.date).get_days();
    if !(-7..=28).contains(&days_to_notice) {
        return;
    }
    for _ in 0..poisson(rng, 1.5) {
        let second = between(rng, start, end);
        let body = http_body(rng, Category::JobSearch, HttpAction::Visit, &[]);
        emit(out, rng, second, person.index, person.pc, body, None);
    }
}

/// Browsing, mail and USB use between `from` and `to` on `pc`, at the person's own rates times
/// `scale`.
#[allow(clippy::too_many_arguments)]
pub fn fill_session(
    day: &Day,
    person: &Person,
    rng: &mut SimRng,
    from: u32,
    to: u32,
    pc: u16,
    scale: f64,
    out: &mut Vec<Record>,
) {
    if to <= from {
        return;
    }
    let habits = &person.habits;
    let hours = f64::from(to - from) / 3600.0;
    let user = person.index;
    for _ in 0..poisson(rng, habits.http_per_hour * hours * scale) {
        let second = between(rng, from, to);
        let category = Category::ALL[weighted(rng, &habits.web_weights)];
        let action = match category {
            Category::CloudStorage if rng.random_bool(0.15) => HttpAction::Upload,
            Category::Social if rng.random_bool(0.03) => HttpAction::Upload,
            Category::Tech | Category::HackingTools if rng.random_bool(0.1) => HttpAction::Download,
            _ => HttpAction::Visit,
        };
        let body = http_body(rng, category, action, &[]);
        emit(out, rng, second, user, pc, body, None);
    }
    for _ in 0..poisson(rng, habits.emails_per_day * hours / 8.5 * scale) {
        let second = between(rng, from, to);
        let body = work_mail(day, person, rng);
        emit(out, rng, second, user, pc, body, None);
    }
    for _ in 0..poisson(rng, habits.usb_per_day * hours / 8.5 * scale) {
        let connect = between(rng, from, to.saturating_sub(120));
        emit(out, rng, connect, user, pc, Body::Connect, None);
        let mut second = connect;
        for _ in 0..poisson(rng, habits.files_per_connect) {
            second += rng.random_range(20..400);
            let extension = *pick(rng, DOCUMENT_EXTENSIONS);
            let body = file_body(rng, extension, work_words(person));
            emit(out, rng, second, user, pc, body, None);
        }
        // Some drives are pulled after a shutdown: no disconnect row (as in CERT).
        if !rng.random_bool(0.03) {
            let disconnect = (second + rng.random_range(60..1800)).min(to.max(second + 1));
            emit(out, rng, disconnect, user, pc, Body::Disconnect, None);
        }
    }
}

/// An ordinary work mail to contacts (and sometimes partners).
pub fn work_mail(day: &Day, person: &Person, rng: &mut SimRng) -> Body {
    let internal = |rng: &mut SimRng| -> String {
        let index = if person.contacts.is_empty() {
            rng.random_range(0..day.org.people.len()) as u32
        } else {
            *pick(rng, &person.contacts)
        };
        day.org.person(index).email.clone()
    };
    let mut to = Vec::new();
    let mut cc = Vec::new();
    let mut bcc = Vec::new();
    let external =
        rng.random_bool(person.habits.external_mail_share) && !person.external_contacts.is_empty();
    if external {
        to.push(pick(rng, &person.external_contacts).clone());
        if rng.random_bool(0.3) {
            cc.push(internal(rng));
        }
    } else {
        for _ in 0..rng.random_range(1..=3) {
            to.push(internal(rng));
        }
        if rng.random_bool(0.3) {
            cc.push(internal(rng));
        }
    }
    if rng.random_bool(0.04) {
        bcc.push(internal(rng));
    }
    to.dedup();
    let attachments = if rng.random_bool(0.25) {
        rng.random_range(1..=3)
    } else {
        0
    };
    let count = rng.random_range(10..30);
    let content = bag_of_words(rng, work_words(person), GENERAL_WORDS, count, 0.5);
    Body::Email {
        to,
        cc,
        bcc,
        from: person.email.clone(),
        size: mail_size(rng),
        attachments,
        content,
    }
}
