//! The timeline: disclosures per Dutch day, stacked per activity, as an SVG drawn on the
//! server (no script, no chart library), with a legend and the same numbers as a table for
//! whoever cannot see the chart.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use maud::{html, Markup};

/// Colours that stay apart for colour-blind readers (Okabe–Ito), all dark enough on white.
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8C6D00", "#56B4E9", "#6A3D9A", "#000000",
];

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// Counts per (day, activity).
#[derive(Debug, Default)]
pub struct Series {
    pub days: Vec<NaiveDate>,
    pub counts: BTreeMap<(NaiveDate, String), i64>,
}

impl Series {
    /// Every day from `first` to `last` (a chart shows the quiet days too).
    pub fn new(first: NaiveDate, last: NaiveDate) -> Series {
        Series {
            days: first.iter_days().take_while(|d| *d <= last).collect(),
            counts: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, day: NaiveDate, activity: &str, n: i64) {
        if n > 0 {
            *self.counts.entry((day, activity.to_owned())).or_default() += n;
        }
    }

    fn activities(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.counts.keys().map(|(_, a)| a).collect();
        set.into_iter().cloned().collect()
    }

    fn total(&self, day: NaiveDate) -> i64 {
        self.counts
            .range((day, String::new())..)
            .take_while(|((d, _), _)| *d == day)
            .map(|(_, n)| n)
            .sum()
    }
}

struct Bar {
    x: f64,
    y: f64,
    height: f64,
    colour: &'static str,
    title: String,
}

/// A round step for about four gridlines up to `max`.
fn step(max: i64) -> i64 {
    let rough = (max as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let nice = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * magnitude >= rough)
        .unwrap_or(10.0);
    (nice * magnitude).max(1.0) as i64
}

fn dutch_number(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

pub fn chart(series: &Series) -> Markup {
    let activities = series.activities();
    let colour = |a: &str| {
        let i = activities.iter().position(|x| x == a).unwrap_or(0);
        COLOURS[i % COLOURS.len()]
    };
    let max = series
        .days
        .iter()
        .map(|d| series.total(*d))
        .max()
        .unwrap_or(0);
    let step = step(max.max(1));
    let top = ((max.max(1) + step - 1) / step) * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = series.days.len().max(1) as f64;
    let band = plot_w / n;
    let bar = (band * 0.8).max(1.0);
    let y = |v: i64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
    let label_every = (series.days.len() as f64 / 10.0).ceil().max(1.0) as usize;
    let total: i64 = series.counts.values().sum();
    let mut bars = Vec::new();
    for (i, day) in series.days.iter().enumerate() {
        let x = LEFT + i as f64 * band + (band - bar) / 2.0;
        let mut base = 0;
        for a in &activities {
            if let Some(&c) = series.counts.get(&(*day, a.clone())) {
                let (y0, y1) = (y(base + c), y(base));
                base += c;
                bars.push(Bar {
                    x,
                    y: y0,
                    height: (y1 - y0).max(0.5),
                    colour: colour(a),
                    title: format!("{}: {} onder {a}", day.format("%d-%m-%Y"), dutch_number(c)),
                });
            }
        }
    }
    let first = series
        .days
        .first()
        .map(|d| d.format("%d-%m-%Y").to_string());
    let last = series.days.last().map(|d| d.format("%d-%m-%Y").to_string());
    html! {
        figure.tijdlijn {
            svg id="tijdlijn" role="img" aria-labelledby="tijdlijn-titel tijdlijn-uitleg"
                viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width="100%" preserveAspectRatio="xMinYMin meet"
                xmlns="http://www.w3.org/2000/svg" {
                title id="tijdlijn-titel" { "Verstrekkingen per dag en verwerkingsactiviteit" }
                desc id="tijdlijn-uitleg" {
                    (dutch_number(total)) " verstrekkingen van "
                    (first.clone().unwrap_or_default()) " tot en met " (last.clone().unwrap_or_default())
                    "; de hoogste dag telt " (dutch_number(max)) "."
                }
                @for k in 0..=(top / step) {
                    @let v = k * step;
                    line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(v)) y2=(y(v)) stroke=(if v == 0 { "#333" } else { "#ddd" }) stroke-width="1" {}
                    text x=(LEFT - 6.0) y=(y(v) + 4.0) text-anchor="end" font-size="12" fill="#333" { (dutch_number(v)) }
                }
                @for b in &bars {
                    rect.balk x=(format!("{:.2}", b.x)) y=(format!("{:.2}", b.y)) width=(format!("{bar:.2}"))
                        height=(format!("{:.2}", b.height)) fill=(b.colour) {
                        title { (b.title) }
                    }
                }
                @for (i, day) in series.days.iter().enumerate() {
                    @if i % label_every == 0 {
                        text x=(format!("{:.2}", LEFT + (i as f64 + 0.5) * band)) y=(HEIGHT - BOTTOM + 16.0) text-anchor="middle" font-size="11" fill="#333" {
                            (day.format("%d-%m"))
                        }
                    }
                }
                text x=(LEFT) y=(HEIGHT - 6.0) font-size="12" fill="#333" { "dag (Nederlandse tijd)" }
            }
            figcaption {
                @if activities.is_empty() {
                    p { "Geen verstrekkingen in deze periode." }
                } @else {
                    ul.legenda aria-label="Legenda" {
                        @for a in &activities {
                            @let sum: i64 = series.counts.iter().filter(|((_, x), _)| x == a).map(|(_, n)| n).sum();
                            li {
                                svg width="14" height="14" aria-hidden="true" focusable="false" { rect width="14" height="14" fill=(colour(a)) {} }
                                " " (a) ": " (dutch_number(sum))
                            }
                        }
                    }
                }
            }
        }
        @if !activities.is_empty() {
            details.cijfers {
                summary { "De cijfers van de grafiek als tabel" }
                div.tabel role="region" aria-label="Verstrekkingen per dag" tabindex="0" {
                    table {
                        thead { tr { th scope="col" { "Dag" } @for a in &activities { th scope="col" { (a) } } th scope="col" { "Totaal" } } }
                        tbody {
                            @for day in &series.days {
                                @let t = series.total(*day);
                                @if t > 0 {
                                    tr {
                                        th scope="row" { (day.format("%d-%m-%Y")) }
                                        @for a in &activities {
                                            td.getal { (dutch_number(*series.counts.get(&(*day, a.clone())).unwrap_or(&0))) }
                                        }
                                        td.getal { (dutch_number(t)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step(1), 1);
        assert_eq!(step(9), 5);
        assert_eq!(step(40), 10);
        assert_eq!(step(1234), 500);
        assert_eq!(dutch_number(1234567), "1.234.567");
        assert_eq!(dutch_number(12), "12");
    }

    #[test]
    fn the_chart_stacks_each_day_and_lists_each_activity() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut s = Series::new(d("2026-11-01"), d("2026-11-03"));
        s.add(d("2026-11-01"), "rni-adresoverzicht", 3);
        s.add(d("2026-11-01"), "rni-telling", 2);
        s.add(d("2026-11-03"), "rni-telling", 1);
        assert_eq!(s.days.len(), 3);
        assert_eq!(s.total(d("2026-11-01")), 5);
        let html = chart(&s).into_string();
        assert_eq!(html.matches("<rect class=\"balk\"").count(), 3);
        assert!(html.contains("01-11-2026: 3 onder rni-adresoverzicht"));
        assert!(html.contains("rni-telling: 3"));
    }
}
