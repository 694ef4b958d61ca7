//! Plan mode in the client, as in Codex: Shift+Tab goes between the default mode and plan
//! mode between turns, the footer says which, a plan turn that ends with a proposed plan
//! offers to implement it, and the model's questions (`request_user_input`) are asked one
//! picker at a time.

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use crate::protocol::{CollaborationMode, Op, Settings};

/// What a plan turn that proposed a plan offers, in `plan_picked`'s order.
const IMPLEMENT_CHOICES: [(&str, &str); 2] = [
    ("Yes, implement this plan", "in the default mode"),
    ("No, stay in plan mode", "go on planning"),
];

/// What the person types for them, as Codex sends it.
const IMPLEMENT: &str = "Implement the plan.";

impl App {
    /// Shift+Tab: the next mode, between turns.
    pub(super) fn cycle_mode(&mut self) {
        if self.turn.running() {
            self.status.hint = Some("the mode changes between turns".into());
            return;
        }
        self.enter_mode(self.status.mode.next());
    }

    /// `mode` from the next turn on, said.
    pub(super) fn enter_mode(&mut self, mode: CollaborationMode) {
        if mode != self.status.mode {
            self.set_mode(mode);
        }
        self.notice(match self.status.mode {
            CollaborationMode::Plan => {
                "Plan mode: the model plans and changes nothing (commands only read, no patch); \
                 shift+tab goes back."
            }
            CollaborationMode::Default => "Default mode: the model does the work.",
        });
    }

    fn set_mode(&mut self, mode: CollaborationMode) {
        self.status.mode = mode;
        self.send(Op::Override(Settings {
            mode: Some(mode),
            ..Settings::default()
        }));
    }

    /// A turn ended: in plan mode, with a plan proposed, the offer to implement it.
    pub(super) fn offer_implementation(&mut self, answer: Option<&str>) {
        if self.status.mode != CollaborationMode::Plan
            || !answer.is_some_and(|text| text.contains("<proposed_plan>"))
        {
            return;
        }
        let items = PickerItem::choices(&IMPLEMENT_CHOICES);
        self.pane.open_picker(
            PickerKind::ImplementPlan,
            Picker::new("Implement this plan?", items, ""),
        );
    }

    /// Opens the picker of the next unanswered question, or sends the answers when none is
    /// left.
    pub(super) fn ask_next_question(&mut self) {
        let Some((id, questions, answers)) = &self.turn.asked else {
            return;
        };
        let Some(question) = questions.get(answers.len()) else {
            let (id, answers) = (*id, answers.clone());
            self.turn.asked = None;
            self.send(Op::AnswerQuestions {
                id,
                answers: Some(answers),
            });
            return;
        };
        let items = question
            .options
            .iter()
            .map(|choice| PickerItem {
                label: choice.label.clone(),
                detail: choice.description.clone(),
                current: false,
            })
            .collect();
        let title = format!(
            "{} ({}/{}): {}",
            question.header,
            answers.len() + 1,
            questions.len(),
            question.question
        );
        self.pane
            .open_picker(PickerKind::Question, Picker::new(&title, items, ""));
    }

    /// The person put the question away: none of them is answered.
    pub(super) fn questions_dismissed(&mut self) {
        if let Some((id, _, _)) = self.turn.asked.take() {
            self.notice("Not answered: the model goes on without your answers.");
            self.send(Op::AnswerQuestions { id, answers: None });
        }
    }

    /// The person chose `label` for the question asked.
    pub(super) fn question_answered(&mut self, label: String) {
        let asked = self
            .turn
            .asked
            .as_mut()
            .and_then(|(_, questions, answers)| {
                let question = questions.get(answers.len())?;
                answers.push((question.id.clone(), vec![label.clone()]));
                Some(question.header.clone())
            });
        if let Some(header) = asked {
            self.notice(format!("{header}: {label}"));
        }
        self.ask_next_question();
    }

    /// The choice of the offer.
    pub(super) fn plan_picked(&mut self, index: usize) {
        if index == 0 {
            self.set_mode(CollaborationMode::Default);
            self.submit(IMPLEMENT.to_string());
        }
    }
}
