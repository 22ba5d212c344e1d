package vitalstream;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.context.support.IValidationSupport;

/**
 * Validates FHIR R4 JSON resources with HAPI FHIR's instance validator (HL7's validator core):
 * the base specification and every profile a resource claims in meta.profile, with the
 * R4 packages on the class path and no terminology server. Codes of systems it cannot
 * expand offline (LOINC, SNOMED CT) are reported as warnings, not errors.
 *
 * Usage: Validate file.json... ; prints one line per issue, tab-separated:
 * file, severity, location, message. Exit 0 when it ran (whatever it found), 2 on bad input.
 */
public final class Validate {
  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: Validate file.json...");
      System.exit(2);
    }
    FhirContext ctx = FhirContext.forR4Cached();
    UnknownCodeSystemWarningValidationSupport unknownSystems = new UnknownCodeSystemWarningValidationSupport(ctx);
    unknownSystems.setNonExistentCodeSystemSeverity(IValidationSupport.IssueSeverity.WARNING);
    ValidationSupportChain chain = new ValidationSupportChain(
        new DefaultProfileValidationSupport(ctx),
        new CommonCodeSystemsTerminologyService(ctx),
        new InMemoryTerminologyServerValidationSupport(ctx),
        new SnapshotGeneratingValidationSupport(ctx),
        unknownSystems);
    FhirInstanceValidator instance = new FhirInstanceValidator(chain);
    instance.setErrorForUnknownProfiles(true);
    FhirValidator validator = ctx.newValidator().registerValidatorModule(instance);
    StringBuilder out = new StringBuilder();
    for (String file : args) {
      String json = Files.readString(Path.of(file), StandardCharsets.UTF_8);
      ValidationResult result = validator.validateWithResult(json);
      for (SingleValidationMessage m : result.getMessages()) {
        if (m.getSeverity() == ResultSeverityEnum.INFORMATION) continue;
        out.append(file).append('\t').append(m.getSeverity().getCode()).append('\t')
            .append(clean(m.getLocationString())).append('\t').append(clean(m.getMessage())).append('\n');
      }
      out.append(file).append('\t').append("done").append('\t').append('\t').append('\n');
    }
    System.out.print(out);
    System.out.flush();
  }

  private static String clean(String s) {
    return s == null ? "" : s.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
  }
}
