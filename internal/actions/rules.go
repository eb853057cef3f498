package actions

import (
	"context"
	"fmt"
	"strings"

	"github.com/portico-dev/portico/internal/derrors"
	"github.com/portico-dev/portico/internal/policy"
	"github.com/portico-dev/portico/internal/rollout"
)

// Confirmation says what an action needs beyond its input: a reason in production, and the
// workload's name typed for production and for scaling to zero; why says so in words.
func (s *Service) Confirmation(w *Workload, in Input) (needReason, needName bool, why string) {
	if in.Action == policy.Scale && in.Replicas != nil && *in.Replicas == 0 && w.Deployment.HPA == nil {
		needName, why = true, "Scaling to zero stops every pod: the service will not answer."
	}
	if s.Production(w) {
		needReason, needName = true, true
		why = strings.TrimSpace("This is a production workload: give a reason and type its name to confirm. " + why)
	}
	return needReason, needName, why
}

func (s *Service) checkConfirmation(w *Workload, in Input) error {
	needReason, needName, _ := s.Confirmation(w, in)
	name := w.Deployment.Object.Name
	switch {
	case needReason && strings.TrimSpace(in.Reason) == "":
		return fmt.Errorf("%w: A reason is required for production workloads", derrors.Invalid)
	case needName && in.Confirm != name:
		return fmt.Errorf("%w: Type the workload's name (%s) to confirm", derrors.Invalid, name)
	}
	return nil
}

// validate checks the input that does not need the cluster, so a bad value never gets as far
// as the API server.
func (s *Service) validate(w *Workload, in Input) error {
	max := s.cfg.MaxReplicas
	switch in.Action {
	case policy.Deploy:
		_, err := rollout.ValidateImage(in.Image)
		return err
	case policy.Rollback:
		if in.Revision < 0 {
			return fmt.Errorf("%w: Revision must be a positive number (or 0 for the previous one)", derrors.Invalid)
		}
	case policy.Scale:
		if hpa := w.Deployment.HPA; hpa != nil {
			if in.Min == nil || in.Max == nil {
				return fmt.Errorf("%w: %s is managed by the autoscaler %s: give its new min and max", derrors.Invalid, w.Deployment.Object.Name, hpa.Name)
			}
			return nil
		}
		if in.Replicas == nil {
			return fmt.Errorf("%w: Give the number of replicas", derrors.Invalid)
		}
		if *in.Replicas < 0 || *in.Replicas > max {
			return fmt.Errorf("%w: Replicas must be between 0 and %d, not %d", derrors.Invalid, max, *in.Replicas)
		}
	}
	return nil
}

// checkScan applies the optional rule that production only runs images whose CI run passed
// its security-scan stage.
func (s *Service) checkScan(ctx context.Context, w *Workload, in Input) error {
	if in.Action != policy.Deploy || !s.cfg.RequireSecurityScan || !s.Production(w) {
		return nil
	}
	if s.builds == nil {
		return nil // no CI reports are received, so there is nothing to check against
	}
	found, err := s.builds.BuildsOf(ctx, w.Entity.ProjectSlugs(), []string{in.Image})
	if err != nil {
		return derrors.E(derrors.Unavailable, "Could not check the image's security scan, so production deploys are held; try again in a moment", err)
	}
	b, ok := found[in.Image]
	switch {
	case !ok:
		return fmt.Errorf("%w: Production only runs images built by a reported CI run that passed its security scan, and no run reported building %s", derrors.Forbidden, in.Image)
	case !b.ScanPassed:
		return fmt.Errorf("%w: %s was built by run %s, which did not pass its security-scan stage; production only runs scanned images", derrors.Forbidden, in.Image, b.RunID)
	}
	return nil
}
