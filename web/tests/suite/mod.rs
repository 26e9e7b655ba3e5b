//! The dashboard's scenarios, written once and run against every store: each is a
//! `pub async fn(Harness)`, and [`dashboard_suite!`] makes a test of each for a store.

#![allow(dead_code)] // each test crate runs the scenarios through the macro

pub(crate) mod actions;
pub(crate) mod harness;
pub(crate) mod pages;
pub(crate) mod security;

pub(crate) use harness::Harness;

/// A `#[tokio::test]` per scenario, each on a fresh harness from `$harness()`.
#[macro_export]
macro_rules! dashboard_suite {
    ($harness:path) => {
        $crate::dashboard_suite!(@tests $harness;
            pages::the_overview_counts_each_queues_jobs_by_state,
            pages::the_overview_counts_what_finished_in_the_last_hour,
            pages::the_overview_says_when_there_are_no_queues,
            pages::the_jobs_page_lists_the_newest_first_a_page_at_a_time,
            pages::the_jobs_page_filters_by_queue_state_kind_and_tag,
            pages::the_job_page_shows_the_whole_job,
            pages::the_job_page_shows_the_output_of_a_completed_job,
            pages::the_job_page_says_why_a_job_is_not_running,
            pages::a_job_held_back_by_a_limit_says_so_and_the_overview_shows_the_queues,
            pages::a_job_that_does_not_exist_is_a_404_page_and_a_malformed_id_a_400,
            pages::a_waiting_jobs_page_says_what_it_waits_for,
            pages::a_batch_callbacks_page_shows_the_batchs_progress,
            pages::the_schedules_page_shows_the_next_fire_times_in_the_schedules_timezone,
            pages::the_stylesheet_is_served_by_the_dashboard,
            actions::retry_runs_a_failed_job_again,
            actions::cancel_ends_a_pending_job,
            actions::cancelling_a_finished_job_is_a_conflict,
            actions::delete_removes_a_job,
            actions::the_store_refusing_an_action_is_an_error_page,
            actions::a_bulk_retry_is_confirmed_then_retries_every_job_the_filter_selects,
            actions::a_bulk_cancel_and_delete_act_on_the_filter,
            actions::a_bulk_action_must_be_named,
            actions::pausing_and_resuming_a_queue_from_the_overview,
            actions::pausing_an_unknown_queue_is_a_404_page,
            actions::pausing_resuming_and_triggering_a_schedule,
            actions::acting_on_an_unknown_schedule_is_a_404_page,
            security::what_users_put_in_jobs_is_shown_escaped,
            security::an_error_message_is_shown_escaped,
            security::read_only_mode_renders_no_buttons_and_refuses_every_post,
            security::a_post_without_the_csrf_token_or_from_another_site_is_refused,
            security::every_response_carries_the_security_headers,
            security::nested_at_a_path_every_link_and_form_stays_under_it,
        );
    };
    (@tests $harness:path; $($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                suite::$module::$name($harness().await).await;
            }
        )*
    };
}
